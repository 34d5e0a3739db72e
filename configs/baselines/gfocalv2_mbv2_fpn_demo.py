# Baseline for the GiraffeDet demo comparison: MobileNetV2 (ImageNet seed) + FPN with the
# same GFocal V2 head, schedule and data as giraffedet_tiny_demo.py, so only the
# backbone/neck split differs (heavy backbone + light neck here).
_base_ = [
    '../_base_/datasets/demo_coco.py', '../_base_/schedules/demo_schedule.py',
    '../_base_/default_runtime.py'
]
model = dict(
    type='GFL',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='MobileNetV2',
        out_indices=(2, 4, 6),  # 32 ch @ stride 8, 96 @ 16, 320 @ 32
        act_cfg=dict(type='ReLU6'),
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint='detnas://mobilenet_v2_imagenet')),
    neck=dict(
        type='FPN',
        in_channels=[32, 96, 320],
        out_channels=64,
        start_level=0,
        add_extra_convs='on_input',
        num_outs=5),
    bbox_head=dict(
        type='GFocalV2Head',
        num_classes=6,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            octave_base_scale=8,
            scales_per_octave=1,
            strides=[8, 16, 32, 64, 128]),
        reg_max=16,
        reg_topk=4,
        reg_channels=64,
        add_mean=True,
        loss_cls=dict(
            type='QualityFocalLoss', use_sigmoid=True, activated=True, beta=2.0,
            loss_weight=1.0),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0)),
    train_cfg=dict(
        assigner=dict(type='ATSSAssigner', topk=9),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100))
