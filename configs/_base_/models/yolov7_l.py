# YOLOv7 (the "L" model, official cfg/deploy/yolov7.yaml) for the 80 COCO classes at 640x640:
# mmdet's SingleStageDetector with YOLOv7Backbone, YOLOv7PAFPN and YOLOv7Head. Loss = official
# ComputeLossOTA with hyp.scratch.p5 (box 0.05, cls 0.3, obj 0.7; balance 4.0/1.0/0.4).
# The other YOLOv7 models override arch, widths, anchors and loss weights (yolov7_tiny.py,
# configs/yolov7/).
num_classes = 80
num_levels = 3
anchors = [[(12, 16), (19, 36), (40, 28)], [(36, 75), (76, 55), (72, 146)],
           [(142, 110), (192, 243), (459, 401)]]
strides = [8, 16, 32]
# official train.py scaling of the hyps: 3 / nl, nc / 80 and (imgsz / 640)^2 (1 at 640)
box_hyp, cls_hyp, obj_hyp = 0.05, 0.3, 0.7
obj_level_weights = [4.0, 1.0, 0.4]

model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.],
        bgr_to_rgb=True, pad_size_divisor=32),
    backbone=dict(type='YOLOv7Backbone', arch='l'),
    neck=dict(type='YOLOv7PAFPN', arch='l'),
    bbox_head=dict(
        type='YOLOv7Head',
        num_classes=num_classes,
        in_channels=[256, 512, 1024],
        base_anchors=anchors,
        strides=strides,
        loss_bbox_weight=box_hyp * 3 / num_levels,
        loss_cls_weight=cls_hyp * num_classes / 80 * 3 / num_levels,
        loss_obj_weight=obj_hyp * 3 / num_levels,
        obj_level_weights=obj_level_weights,
        assigner=dict(type='YOLOv7Assigner', neighbour_offset=0.5, candidate_topk=10)),
    train_cfg=None,
    test_cfg=dict(score_thr=0.001, nms_pre=30000, nms=dict(type='nms', iou_threshold=0.65),
                  max_per_img=300))
