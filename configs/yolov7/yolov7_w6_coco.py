# YOLOv7-W6 on COCO at 1280x1280 (official cfg/training/yolov7-w6.yaml: P3-P6, ReOrg stem,
# auxiliary head with lead-guided assignment; the auxiliary branch is dropped at deploy):
# yolov7_l_coco.py with a fourth level, the P6 anchors, the hyps rescaled to 4 levels and
# 1280 px, and the pipelines at 1280. The base of the other P6 models (E6, D6, E6E).
#   bash tools/dist_train.sh configs/yolov7/yolov7_w6_coco.py 8
_base_ = './yolov7_l_coco.py'

img_scale = (1280, 1280)
num_levels = 4
model = dict(
    data_preprocessor=dict(pad_size_divisor=64),
    backbone=dict(arch='w6'),
    neck=dict(arch='w6'),
    bbox_head=dict(
        in_channels=[256, 512, 768, 1024],
        aux_in_channels=[320, 640, 960, 1280],
        base_anchors=[[(19, 27), (44, 40), (38, 94)], [(96, 68), (86, 152), (180, 137)],
                      [(140, 301), (303, 264), (238, 542)],
                      [(436, 615), (739, 380), (925, 792)]],
        strides=[8, 16, 32, 64],
        loss_bbox_weight=_base_.box_hyp * 3 / num_levels,
        loss_cls_weight=_base_.cls_hyp * _base_.num_classes / 80 * 3 / num_levels,
        loss_obj_weight=_base_.obj_hyp * (img_scale[0] / 640)**2 * 3 / num_levels,
        obj_level_weights=[4.0, 1.0, 0.25, 0.06],
        aux_loss_weight=0.25,
        assigner=dict(type='YOLOv7Assigner', neighbour_offset=0.5, candidate_topk=20),
        aux_assigner=dict(type='YOLOv7Assigner', neighbour_offset=1.0, candidate_topk=20)))

# the P5 pipelines with every size set to img_scale
train_pipeline = [
    dict(t, img_scale=img_scale) if t.type == 'Mosaic' else
    dict(t, border=(-img_scale[0] // 2, -img_scale[1] // 2)) if t.type == 'RandomAffine' else t
    for t in _base_.train_pipeline
]
test_pipeline = [
    dict(t, scale=img_scale) if t.type == 'Resize' else
    dict(t, size=img_scale) if t.type == 'Pad' else t
    for t in _base_.test_pipeline
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
