# The RetinaNet demo detector of retinanet_mbv2_fpn_demo.py from random init (the control for
# the ImageNet seed).
#   python tools/train.py configs/baselines/retinanet_mbv2_fpn_scratch_demo.py
_base_ = './retinanet_mbv2_fpn_demo.py'
model = dict(backbone=dict(init_cfg=None))
