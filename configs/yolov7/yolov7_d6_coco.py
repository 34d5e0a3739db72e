# YOLOv7-D6 on COCO at 1280x1280 (official cfg/training/yolov7-d6.yaml).
#   bash tools/dist_train.sh configs/yolov7/yolov7_d6_coco.py 8
_base_ = './yolov7_w6_coco.py'

model = dict(
    backbone=dict(arch='d6'),
    neck=dict(arch='d6'),
    bbox_head=dict(in_channels=[384, 768, 1152, 1536],
                   aux_in_channels=[384, 768, 1152, 1536]))
