# YOLOv7-tiny on COCO at 640x640 (_base_/models/yolov7_tiny.py: official
# cfg/deploy/yolov7-tiny.yaml, hyp.scratch.tiny loss weights), with the data, schedule and
# EMA of yolov7_l_coco.py.
#   bash tools/dist_train.sh configs/yolov7/yolov7_tiny_coco.py 8
_base_ = [
    '../_base_/models/yolov7_tiny.py', '../_base_/datasets/coco_yolov7.py',
    '../_base_/schedules/yolov7_300e.py', '../_base_/default_runtime.py'
]
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True,
         priority=49)
]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
