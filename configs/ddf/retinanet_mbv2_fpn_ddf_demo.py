# RetinaNet + FPN (MobileNetV2 seed) with the dilated-deformable small-object fusion block on
# P3 (fused with P4), demo data. Identical to the baseline otherwise.
#   python tools/train.py configs/ddf/retinanet_mbv2_fpn_ddf_demo.py
_base_ = '../baselines/retinanet_mbv2_fpn_demo.py'

# the baseline's FPN, then the fusion block on its outputs
model = dict(neck=[
    _base_.model.neck,
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
