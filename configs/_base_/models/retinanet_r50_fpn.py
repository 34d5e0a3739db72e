# RetinaNet R-50-FPN (mmdet's): the RetinaNet of retinanet_mbv2_fpn.py on the ImageNet
# ResNet-50 (r50_backbone.py); the FPN reads C3-C5 and makes P6-P7 from C5.
_base_ = ['./retinanet_mbv2_fpn.py', './r50_backbone.py']
model = dict(
    backbone=dict(_delete_=True, **_base_.r50_backbone),
    neck=dict(in_channels=[256, 512, 1024, 2048], start_level=1))
