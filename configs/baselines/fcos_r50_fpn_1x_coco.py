# FCOS R-50-FPN on COCO 2017, 1x schedule, lr 0.01 at batch 16 with gradient clipping (as
# mmdet's FCOS); the baseline of the SA-FPN / Seq-Head ablation on COCO.
#   bash tools/dist_train.sh configs/baselines/fcos_r50_fpn_1x_coco.py 8
_base_ = [
    '../_base_/models/fcos_r50_fpn.py', '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]
optim_wrapper = dict(optimizer=dict(lr=0.01), clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=True, base_batch_size=16)
