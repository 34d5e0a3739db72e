# YOLOv7-W6 on COCO at 1280x1280 (official cfg/training/yolov7-w6.yaml: P3-P6, ReOrg stem,
# auxiliary head with lead-guided assignment; the auxiliary branch is dropped at deploy).
_base_ = './yolov7_l_coco.py'

num_classes = 80
img_scale = (1280, 1280)
num_levels = 4
box_hyp, cls_hyp, obj_hyp = 0.05, 0.3, 0.7
model = dict(
    data_preprocessor=dict(pad_size_divisor=64),
    backbone=dict(arch='w6'),
    neck=dict(arch='w6'),
    bbox_head=dict(
        in_channels=[256, 512, 768, 1024],
        aux_in_channels=[320, 640, 960, 1280],
        base_anchors=[[(19, 27), (44, 40), (38, 94)], [(96, 68), (86, 152), (180, 137)],
                      [(140, 301), (303, 264), (238, 542)],
                      [(436, 615), (739, 380), (925, 792)]],
        strides=[8, 16, 32, 64],
        loss_bbox_weight=box_hyp * 3 / num_levels,
        loss_cls_weight=cls_hyp * num_classes / 80 * 3 / num_levels,
        loss_obj_weight=obj_hyp * (img_scale[0] / 640)**2 * 3 / num_levels,
        obj_level_weights=[4.0, 1.0, 0.25, 0.06],
        aux_loss_weight=0.25,
        assigner=dict(type='YOLOv7Assigner', neighbour_offset=0.5, candidate_topk=20),
        aux_assigner=dict(type='YOLOv7Assigner', neighbour_offset=1.0, candidate_topk=20)))

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
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='Pad', size=img_scale, pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
