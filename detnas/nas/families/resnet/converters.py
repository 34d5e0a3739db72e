"""ResNet checkpoint layouts -> mmdet's ResNet key names (torchvision's: ``conv1``, ``bn1``,
``layerS.J.convK``, ``layerS.J.downsample.{0,1}``; the classifier as ``fc.*``).

Registered layouts: mmpretrain (``backbone.*``, ``head.fc.*``; mmdet detector checkpoints
share its ``backbone.`` prefix and convert alike), torchvision and timm (already mmdet's
names) and mmdet itself.
"""
from detnas.checkpoints.converters import (ConvertedCheckpoint, StateDict, apply_rules,
                                           convert_mmdet, register_converter)

FAMILY = 'resnet'


@register_converter(FAMILY, 'mmpretrain', r'backbone\.layer1\.0\.conv1\.weight')
def convert_mmpretrain(sd: StateDict) -> ConvertedCheckpoint:
    """mmpretrain ResNet (``backbone.*``, ``head.fc.*``) -> mmdet ResNet."""
    return apply_rules(sd, [
        (r'backbone\.(.+)', lambda m: m.group(1)),
        (r'head\.fc\.(weight|bias)', lambda m: f'fc.{m.group(1)}'),
    ], 'mmpretrain')


@register_converter(FAMILY, 'torchvision', r'layer1\.0\.conv1\.weight')
@register_converter(FAMILY, 'timm')
def convert_torchvision(sd: StateDict) -> ConvertedCheckpoint:
    """torchvision and timm ResNets already use mmdet's ResNet names; ``fc`` is the head."""
    return apply_rules(sd, [
        (r'(fc\.(?:weight|bias))', lambda m: m.group(1)),
        (r'((?:conv1|bn1|layer\d)\..+)', lambda m: m.group(1)),
    ], 'torchvision')


register_converter(FAMILY, 'mmdet')(convert_mmdet)
