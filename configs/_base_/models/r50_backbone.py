# torchvision's ImageNet ResNet-50 as mmdet's ResNet (C2-C5: 256/512/1024/2048 channels at
# strides 4-32), stem and first stage frozen, BN in eval mode: the backbone of the R-50
# detectors. A block, not a model: retinanet_r50_fpn.py and fcos_r50_fpn.py put it in place of
# the MobileNetV2 with backbone=dict(_delete_=True, **_base_.r50_backbone).
r50_backbone = dict(
    type='ResNet',
    depth=50,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    frozen_stages=1,
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=True,
    style='pytorch',
    # the checkpoint by plain URL (torchvision itself is not needed); offline, point this at a
    # local copy: checkpoint='detnas:///path/to/resnet50.pth'
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth'))
