# YOLOv7-E6E on COCO at 1280x1280 (official cfg/training/yolov7-e6e.yaml: E6 with every ELAN
# replaced by the E-ELAN arrangement of the official checkpoint, two ELANs added).
#   bash tools/dist_train.sh configs/yolov7/yolov7_e6e_coco.py 8
_base_ = './yolov7_w6_coco.py'

model = dict(
    backbone=dict(arch='e6e'),
    neck=dict(arch='e6e'),
    bbox_head=dict(in_channels=[320, 640, 960, 1280], aux_in_channels=[320, 640, 960, 1280]))
