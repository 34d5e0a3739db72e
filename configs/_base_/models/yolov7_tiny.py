# YOLOv7-tiny (official cfg/deploy/yolov7-tiny.yaml, LeakyReLU 0.1) for the 80 COCO classes at
# 640x640: yolov7_l.py with the tiny backbone and neck, YOLOv5 anchors and hyp.scratch.tiny
# (box 0.05, cls 0.5, obj 1.0). No implicit layers in the tiny deploy model; the training model
# has them and they fold away at deploy.
_base_ = './yolov7_l.py'
num_classes = 80
model = dict(
    backbone=dict(arch='tiny'),
    neck=dict(arch='tiny'),
    bbox_head=dict(
        in_channels=[128, 256, 512],
        base_anchors=[[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],
                      [(116, 90), (156, 198), (373, 326)]],
        loss_cls_weight=0.5 * num_classes / 80,
        loss_obj_weight=1.0))
