# GiraffeDet-style detector sized for the CPU demo data: a narrow S2D chain (light
# backbone, no pretraining) + a GFPN heavy neck + the GFocal V2 head, with the data,
# schedule and head of configs/baselines/gfocalv2_mbv2_fpn_demo.py (the heavy-backbone
# baseline it is compared with at similar FLOPs; see README.md).
#   python tools/train.py configs/giraffedet/giraffedet_tiny_demo.py
_base_ = '../baselines/gfocalv2_mbv2_fpn_demo.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='S2DChain',
        arch='tiny',  # stem 16/32, levels 32/64/128/256/256 at strides 8..128
        norm_cfg=dict(type='BN', requires_grad=True)),
    neck=dict(
        _delete_=True,
        type='GFPN',
        in_channels=[32, 64, 128, 256, 256],
        out_channels=64,
        depth_multiplier=3,  # 5 fusion layers
        width_multiplier=1.0,  # inner nodes 64 channels: 1.12 GMACs vs the baseline's 1.10
        skip_type='log2n',
        queen_fusion=True,
        norm_cfg=dict(type='BN', requires_grad=True)))
