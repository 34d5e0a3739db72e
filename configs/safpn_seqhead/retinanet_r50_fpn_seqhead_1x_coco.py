# Variant "+Seq-Head" on COCO: the regression tower reads the classification tower.
_base_ = '../baselines/retinanet_r50_fpn_1x_coco.py'
model = dict(bbox_head=dict(type='SeqRetinaHead', seq_order='cls_reg'))
