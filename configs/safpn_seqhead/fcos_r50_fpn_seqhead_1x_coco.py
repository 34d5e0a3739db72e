# Variant "+Seq-Head" on COCO: the regression tower reads the classification tower.
_base_ = '../baselines/fcos_r50_fpn_1x_coco.py'
model = dict(bbox_head=dict(type='SeqFCOSHead', seq_order='cls_reg'))
