# The same detector from random init (the control for the ImageNet seed).
_base_ = './retinanet_mbv2_fpn_demo.py'
model = dict(backbone=dict(init_cfg=None))
