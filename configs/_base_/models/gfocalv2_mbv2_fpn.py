# GFocal V2 (GFL detector, GFocalV2Head: DGQP quality branch, QFL + DFL + GIoU, ATSS) with the
# ImageNet MobileNetV2 seed + FPN (mbv2_fpn.py), COCO-sized head. The detector of the main
# job (configs/baselines/gfocalv2_mbv2_fpn_demo.py); GiraffeDet keeps its head and swaps the
# backbone and neck.
_base_ = './mbv2_fpn.py'
model = dict(
    type='GFL',
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
