# YOLOv7-X on COCO at 640x640 (official cfg/deploy/yolov7x.yaml).
#   bash tools/dist_train.sh configs/yolov7/yolov7_x_coco.py 8
_base_ = './yolov7_l_coco.py'

model = dict(
    backbone=dict(arch='x'),
    neck=dict(arch='x'),
    bbox_head=dict(in_channels=[320, 640, 1280]))
