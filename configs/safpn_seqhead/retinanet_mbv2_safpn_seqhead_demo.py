# Variant "both": SA-FPN neck and sequential head.
_base_ = '../baselines/retinanet_mbv2_fpn_demo.py'
model = dict(
    neck=dict(type='SAFPN', attention='level'),
    bbox_head=dict(type='SeqRetinaHead', seq_order='cls_reg'))
