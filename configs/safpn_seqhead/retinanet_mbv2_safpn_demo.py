# Variant "+SA-FPN": the neck type is the only change (same channels, levels, extra convs).
_base_ = '../baselines/retinanet_mbv2_fpn_demo.py'
model = dict(neck=dict(type='SAFPN', attention='level'))
