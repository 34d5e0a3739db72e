# YOLOv7-tiny on the embedded demo data (generated shapes on real photos; demo results, not
# COCO), CPU-sized: the model of _base_/models/yolov7_tiny.py for 6 classes at 320x320 (loss
# weights rescaled as the official train.py does), fewer boxes kept, the demo data pipeline
# (no mosaic) and the demo schedule with YOLOv7's SGD settings, from scratch.
#   python tools/train.py configs/yolov7/yolov7_tiny_demo.py
_base_ = [
    '../_base_/models/yolov7_tiny.py', '../_base_/datasets/demo_coco.py',
    '../_base_/schedules/demo_schedule.py', '../_base_/default_runtime.py'
]

num_classes = 6
model = dict(
    bbox_head=dict(
        num_classes=num_classes,
        loss_cls_weight=0.5 * num_classes / 80,
        loss_obj_weight=1.0 * (_base_.image_size[0] / 640)**2),
    test_cfg=dict(nms_pre=3000, max_per_img=100))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.937, weight_decay=0.0005, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
