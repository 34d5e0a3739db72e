# GFocal V2 + FPN on the ImageNet MobileNetV2 seed, demo data, CPU-sized head: the seed
# detector of the main job (tools/demo.py, configs/search/gfocalv2_mbv2_search_demo.py) and
# the heavy-backbone side of the GiraffeDet demo comparison (configs/giraffedet/README.md).
#   python tools/train.py configs/baselines/gfocalv2_mbv2_fpn_demo.py
_base_ = [
    '../_base_/models/gfocalv2_mbv2_fpn.py', '../_base_/datasets/demo_coco.py',
    '../_base_/schedules/demo_schedule.py', '../_base_/default_runtime.py'
]
model = dict(
    neck=dict(out_channels=64),
    bbox_head=dict(
        num_classes=6, in_channels=64, feat_channels=64,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True)))
