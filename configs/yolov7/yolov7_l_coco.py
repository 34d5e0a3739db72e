# YOLOv7 (the "L" model) on COCO at 640x640, mmdet layout data/coco/: the official
# cfg/deploy/yolov7.yaml architecture and ComputeLossOTA loss (_base_/models/yolov7_l.py), the
# official augmentation as far as mmdet has it (_base_/datasets/coco_yolov7.py) and the
# 300-epoch hyp.scratch.p5 schedule (_base_/schedules/yolov7_300e.py) with EMA.
#   bash tools/dist_train.sh configs/yolov7/yolov7_l_coco.py 8
_base_ = [
    '../_base_/models/yolov7_l.py', '../_base_/datasets/coco_yolov7.py',
    '../_base_/schedules/yolov7_300e.py', '../_base_/default_runtime.py'
]
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True,
         priority=49)
]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
