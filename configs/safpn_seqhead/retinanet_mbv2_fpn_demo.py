# SA-FPN / Seq-Head ablation, variant "baseline": RetinaNet + FPN + parallel head, demo data.
# Identical to the lead's baseline; kept here so the ablation's four variants sit together.
_base_ = '../baselines/retinanet_mbv2_fpn_demo.py'
