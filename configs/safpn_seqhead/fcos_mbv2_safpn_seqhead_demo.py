# Variant "both": SA-FPN neck and sequential head.
_base_ = '../baselines/fcos_mbv2_fpn_demo.py'
model = dict(
    neck=dict(type='SAFPN', attention='level'),
    bbox_head=dict(type='SeqFCOSHead', seq_order='cls_reg'))
