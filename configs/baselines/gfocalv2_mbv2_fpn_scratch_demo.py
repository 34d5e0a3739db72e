# The MobileNetV2 + FPN baseline from random init: GiraffeDet trains from scratch, so this
# is the like-for-like control (mbv2_fpn_gfocalv2_demo.py starts from the ImageNet seed).
_base_ = './gfocalv2_mbv2_fpn_demo.py'
model = dict(backbone=dict(init_cfg=None))
