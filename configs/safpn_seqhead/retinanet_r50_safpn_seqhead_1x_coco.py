# Variant "both" on COCO: SA-FPN neck and sequential head.
_base_ = '../baselines/retinanet_r50_fpn_1x_coco.py'
model = dict(
    neck=dict(type='SAFPN', attention='level'),
    bbox_head=dict(type='SeqRetinaHead', seq_order='cls_reg'))
