# RetinaNet + FPN on the ImageNet MobileNetV2 seed, COCO 2017, 1x schedule.
#   bash tools/dist_train.sh configs/baselines/retinanet_mbv2_fpn_1x_coco.py 8
_base_ = [
    '../_base_/models/retinanet_mbv2_fpn.py', '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(enable=True, base_batch_size=16)
