# The GFocal V2 + MobileNetV2 + FPN demo detector from random init: the like-for-like control
# for GiraffeDet, which trains from scratch (gfocalv2_mbv2_fpn_demo.py starts from the
# ImageNet seed).
#   python tools/train.py configs/baselines/gfocalv2_mbv2_fpn_scratch_demo.py
_base_ = './gfocalv2_mbv2_fpn_demo.py'
model = dict(backbone=dict(init_cfg=None))
