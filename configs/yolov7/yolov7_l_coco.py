# YOLOv7 (the "L" model) on COCO at 640x640, mmdet layout data/coco/.
# Architecture = official cfg/deploy/yolov7.yaml; loss = official ComputeLossOTA with
# hyp.scratch.p5 (box 0.05, cls 0.3, obj 0.7; balance 4.0/1.0/0.4); 300 epochs.
_base_ = ['../_base_/datasets/coco_detection.py', '../_base_/default_runtime.py']

num_classes = 80
img_scale = (640, 640)  # (w, h)
num_levels = 3
anchors = [[(12, 16), (19, 36), (40, 28)], [(36, 75), (76, 55), (72, 146)],
           [(142, 110), (192, 243), (459, 401)]]
strides = [8, 16, 32]
# official train.py scaling of the hyps: 3 / nl, nc / 80 and (imgsz / 640)^2
box_hyp, cls_hyp, obj_hyp = 0.05, 0.3, 0.7
obj_level_weights = [4.0, 1.0, 0.4]

model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.],
        bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='YOLOv7Backbone', arch='l'),
    neck=dict(type='YOLOv7PAFPN', arch='l'),
    bbox_head=dict(
        type='YOLOv7Head',
        num_classes=num_classes,
        in_channels=[256, 512, 1024],
        base_anchors=anchors,
        strides=strides,
        loss_bbox_weight=box_hyp * 3 / num_levels,
        loss_cls_weight=cls_hyp * num_classes / 80 * 3 / num_levels,
        loss_obj_weight=obj_hyp * (img_scale[0] / 640)**2 * 3 / num_levels,
        obj_level_weights=obj_level_weights,
        assigner=dict(type='YOLOv7Assigner', neighbour_offset=0.5, candidate_topk=10)),
    train_cfg=None,
    test_cfg=dict(score_thr=0.001, nms_pre=30000, nms=dict(type='nms', iou_threshold=0.65),
                  max_per_img=300))

# Augmentation: mosaic + random affine + HSV + flip (the official recipe also has
# mixup 0.15 and letterbox resizing; mmdet has no letterbox, Resize+Pad is used).
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

max_epochs = 300
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# SGD 0.01, momentum 0.937, nesterov, wd 5e-4 at batch 64 (official: wd scaled by
# batch/64, no decay on BN and biases); 3 warm-up epochs, cosine to lrf=0.1.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.937, weight_decay=0.0005, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.1, by_epoch=True, begin=3,
         end=max_epochs, T_max=max_epochs - 3, convert_to_iter_based=True)
]
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True,
         priority=49)
]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(enable=False, base_batch_size=64)
