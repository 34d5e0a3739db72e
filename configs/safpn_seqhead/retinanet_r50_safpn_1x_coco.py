# Variant "+SA-FPN" on COCO: the neck type is the only change.
_base_ = '../baselines/retinanet_r50_fpn_1x_coco.py'
model = dict(neck=dict(type='SAFPN', attention='level'))
