# YOLOv7-E6 on COCO at 1280x1280 (official cfg/training/yolov7-e6.yaml: DownC transitions).
#   bash tools/dist_train.sh configs/yolov7/yolov7_e6_coco.py 8
_base_ = './yolov7_w6_coco.py'

model = dict(
    backbone=dict(arch='e6'),
    neck=dict(arch='e6'),
    bbox_head=dict(in_channels=[320, 640, 960, 1280], aux_in_channels=[320, 640, 960, 1280]))
