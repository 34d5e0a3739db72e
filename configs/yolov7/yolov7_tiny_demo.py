# YOLOv7-tiny on the embedded demo data (generated shapes on real photos; demo results, not
# COCO), CPU-sized: 320x320 input, 6 classes, the demo schedule.
_base_ = [
    '../_base_/datasets/demo_coco.py', '../_base_/schedules/demo_schedule.py',
    '../_base_/default_runtime.py'
]

num_classes = 6
img_size = 320
model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.],
        bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='YOLOv7Backbone', arch='tiny'),
    neck=dict(type='YOLOv7PAFPN', arch='tiny'),
    bbox_head=dict(
        type='YOLOv7Head',
        num_classes=num_classes,
        in_channels=[128, 256, 512],
        base_anchors=[[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],
                      [(116, 90), (156, 198), (373, 326)]],
        strides=[8, 16, 32],
        loss_bbox_weight=0.05,
        loss_cls_weight=0.5 * num_classes / 80,
        loss_obj_weight=1.0 * (img_size / 640)**2,
        obj_level_weights=[4.0, 1.0, 0.4]),
    train_cfg=None,
    test_cfg=dict(score_thr=0.001, nms_pre=3000, nms=dict(type='nms', iou_threshold=0.65),
                  max_per_img=100))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.937, weight_decay=0.0005, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
