# FCOS R-50-FPN (mmdet's "improved" FCOS: GN head, centerness on the reg branch, center
# sampling, GIoU): the FCOS of fcos_mbv2_fpn.py on the ImageNet ResNet-50 (r50_backbone.py),
# the FPN on C3-C5, and GroupNorm in the head towers.
_base_ = ['./fcos_mbv2_fpn.py', './r50_backbone.py']
model = dict(
    backbone=dict(_delete_=True, **_base_.r50_backbone),
    neck=dict(in_channels=[256, 512, 1024, 2048], start_level=1),
    bbox_head=dict(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)))
