# The ImageNet MobileNetV2 seed (torchvision weights, bundled: see DESIGN §4) and the FPN on
# its stride 8/16/32 outputs, COCO-sized (256 channels). Not a detector by itself: the model
# bases retinanet_mbv2_fpn.py, fcos_mbv2_fpn.py and gfocalv2_mbv2_fpn.py add the type and the
# head.
model = dict(
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='MobileNetV2',
        out_indices=(2, 4, 6),  # 32 ch @ stride 8, 96 @ 16, 320 @ 32
        act_cfg=dict(type='ReLU6'),
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint='detnas://mobilenet_v2_imagenet')),
    neck=dict(
        type='FPN',
        in_channels=[32, 96, 320],
        out_channels=256,
        start_level=0,
        add_extra_convs='on_input',
        num_outs=5))
