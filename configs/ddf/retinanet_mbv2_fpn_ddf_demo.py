# RetinaNet + FPN (MobileNetV2 seed) with the dilated-deformable small-object fusion block on
# P3 (fused with P4), demo data. Identical to the baseline otherwise.
_base_ = '../baselines/retinanet_mbv2_fpn_demo.py'
custom_imports = dict(imports=['detnas'], allow_failed_imports=False)

model = dict(neck=[
    dict(
        type='FPN',
        in_channels=[32, 96, 320],
        out_channels=64,
        start_level=0,
        add_extra_convs='on_input',
        num_outs=5),
    dict(
        type='DDFFusion',
        in_channels=64,
        shallow_level=0,  # P3, stride 8: where small objects are detected
        deep_level=1,  # P4
        dilations=(1, 2, 3),
        kernel_size=3,
        groups=4,
        softmax=True),
])
