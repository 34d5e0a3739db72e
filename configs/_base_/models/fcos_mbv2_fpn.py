# FCOS with the ImageNet MobileNetV2 seed + FPN (mbv2_fpn.py; FCOS's extra levels come from
# P5 after a ReLU), COCO-sized head.
_base_ = './mbv2_fpn.py'
model = dict(
    type='FCOS',
    neck=dict(add_extra_convs='on_output', relu_before_extra_convs=True),
    bbox_head=dict(
        type='FCOSHead',
        num_classes=80,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        norm_on_bbox=True,
        centerness_on_reg=True,
        center_sampling=True,
        conv_bias=True,
        loss_cls=dict(
            type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100))
# mmdet's MobileNetV2 always computes its last 1x1 conv (conv2), which out_indices (2, 4, 6)
# leave unused: DistributedDataParallel must be told
find_unused_parameters = True
