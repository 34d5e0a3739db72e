# GiraffeDet-D7 on COCO: S2D-chain backbone + GFPN neck (depth multiplier 7 -> 13 fusion
# layers, inner width int(256 * 0.7) = 179) + GFocal V2 head, trained from scratch with
# multi-scale training on the official "6x" schedule (73 epochs, steps at 66 and 71,
# batch 16 = 8 GPUs x 2). Official config: damo-cv/GiraffeDet
# configs/giraffeDet/giraffe_d7_scratch_6x.py.
_base_ = ['../_base_/datasets/coco_detection.py', '../_base_/default_runtime.py']

# official: SyncBN everywhere except the GN head; use dict(type='BN') on one device
norm_cfg = dict(type='SyncBN', requires_grad=True)

model = dict(
    type='GFL',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=128),
    backbone=dict(type='S2DChain', arch='giraffedet', norm_cfg=norm_cfg),
    neck=dict(
        type='GFPN',
        in_channels=[128, 256, 512, 1024, 2048],
        out_channels=256,
        depth_multiplier=7,
        width_multiplier=0.7,
        skip_type='log2n',
        queen_fusion=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='SiLU')),
    bbox_head=dict(
        type='GFocalV2Head',
        num_classes=80,
        in_channels=256,
        stacked_convs=2,
        feat_channels=256,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
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

# multi-scale training: short side in [480, 960], long side <= 1333
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=[(1333, 480), (1333, 960)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# official "6x": 73 epochs, x0.1 at epochs 66 and 71, 7330 linear warm-up iterations
max_epochs = 73
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=7330),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[66, 71],
         gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
