# COCO 2017 (coco_detection.py) with YOLOv7's augmentation at 640x640: mosaic + random affine
# + HSV + flip for training, resize + pad to the square for testing (the official recipe also
# has mixup 0.15 and letterbox resizing; mmdet has no letterbox, Resize + Pad is used).
# Batch 16 for training, 1 for testing.
_base_ = './coco_detection.py'
img_scale = (640, 640)  # (w, h)

train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(type='RandomAffine', scaling_ratio_range=(0.1, 1.9), max_rotate_degree=0.0,
         max_shear_degree=0.0, max_translate_ratio=0.2,
         border=(-img_scale[0] // 2, -img_scale[1] // 2)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
# COCO's test pipeline with the resize to img_scale padded to the square
test_pipeline = [
    _base_.test_pipeline[0],  # LoadImageFromFile
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114.0, 114.0, 114.0))),
    *_base_.test_pipeline[2:]  # LoadAnnotations, PackDetInputs
]
# mosaic reads four images: the loading steps move into the dataset that MultiImageMixDataset
# wraps
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    batch_sampler=None,
    dataset=dict(
        _delete_=True,
        type='MultiImageMixDataset',
        dataset=dict(
            type='ValidatedCocoDataset',
            data_root='data/coco/',
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            filter_cfg=dict(filter_empty_gt=False, min_size=32),
            missing_hint='download COCO 2017 into data/coco/',
            pipeline=[dict(type='LoadImageFromFile', backend_args=None),
                      dict(type='LoadAnnotations', with_bbox=True)]),
        pipeline=train_pipeline))
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
