# The demo RetinaNet with GroupNorm after each stacked conv of the head (as GFocal V2's and
# FCOS's heads have). mmdet's plain head (std-0.01 init, no normalisation) passes 3 % of its
# input's signal through its towers at initialisation, and its classification loss sits on
# its prior for the first quarter of the demo schedule. Measured on 400 val images, 3 seeds
# (bench/results/retinanet_head_norm.md): 31.5 +- 0.4 AP against 8.9 +- 1.2.
#   python tools/train.py configs/baselines/retinanet_mbv2_fpn_gn_head_demo.py
_base_ = './retinanet_mbv2_fpn_demo.py'
model = dict(bbox_head=dict(norm_cfg=dict(type='GN', num_groups=16, requires_grad=True)))
