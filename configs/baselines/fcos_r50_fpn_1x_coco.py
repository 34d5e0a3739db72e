# SA-FPN / Seq-Head ablation on COCO, variant "baseline": FCOS R-50-FPN (GN head,
# centerness on the reg branch, center sampling, GIoU), 1x schedule, lr 0.01 at batch 16.
_base_ = '../baselines/fcos_mbv2_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        # torchvision's ImageNet ResNet-50 by plain URL (torchvision itself is not needed);
        # offline, point this at a local copy: checkpoint='detnas:///path/to/resnet50.pth'
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/resnet50-0676ba61.pth')),
    neck=dict(
        in_channels=[256, 512, 1024, 2048], out_channels=256, start_level=1,
        add_extra_convs='on_output', num_outs=5, relu_before_extra_convs=True),
    bbox_head=dict(
        in_channels=256, feat_channels=256, stacked_convs=4,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)))
