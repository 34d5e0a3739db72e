# Variant "+Seq-Head": the regression tower reads the classification tower's output.
_base_ = '../baselines/retinanet_mbv2_fpn_demo.py'
model = dict(bbox_head=dict(type='SeqRetinaHead', seq_order='cls_reg'))
