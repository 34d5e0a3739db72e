# RetinaNet + FPN on the ImageNet MobileNetV2 seed, demo data, CPU-sized head; also the
# "baseline" variant of the SA-FPN / Seq-Head ablation (configs/safpn_seqhead/).
#   python tools/train.py configs/baselines/retinanet_mbv2_fpn_demo.py
_base_ = [
    '../_base_/models/retinanet_mbv2_fpn.py', '../_base_/datasets/demo_coco.py',
    '../_base_/schedules/demo_schedule.py', '../_base_/default_runtime.py'
]
model = dict(
    neck=dict(out_channels=64),
    bbox_head=dict(num_classes=6, in_channels=64, feat_channels=64, stacked_convs=2))
