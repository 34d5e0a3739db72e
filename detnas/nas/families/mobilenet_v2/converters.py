"""MobileNetV2 checkpoint layouts -> mmdet's MobileNetV2 key names (``conv1.conv.weight``,
``layer2.0.expand_conv.bn.bias``, ``conv2.*``; the classifier as ``fc.*``).

Registered layouts: torchvision (``features.*``, ``classifier.1.*``), timm
(``mobilenetv2_100``), mmpretrain / mmcls and mmdet itself.
"""
from typing import Tuple

from detnas.checkpoints.converters import (ConvertedCheckpoint, StateDict, apply_rules,
                                           convert_mmdet, register_converter)

FAMILY = 'mobilenet_v2'
# torchvision / mmdet MobileNetV2: blocks per stage (expansion 1 for the first stage only)
STAGE_BLOCKS = (1, 2, 3, 4, 3, 3, 1)
CONV_NAMES = ('expand_conv', 'depthwise_conv', 'linear_conv')


def _block_index(flat: int) -> Tuple[int, int]:
    """Flat block index (1-based, torchvision ``features.N``) -> (stage 1..7, index)."""
    start = 1
    for stage, count in enumerate(STAGE_BLOCKS, 1):
        if flat < start + count:
            return stage, flat - start
        start += count
    raise KeyError(f'MobileNetV2 has no block {flat}')


def _conv_bn(prefix: str, part: str, param: str) -> str:
    return f'{prefix}.{"conv" if part == "conv" else "bn"}.{param}'


def _torchvision_block(m) -> str:
    flat, sub = int(m.group(1)), m.group(2)
    stage, idx = _block_index(flat)
    convs = CONV_NAMES if flat > 1 else CONV_NAMES[1:]
    # torchvision: expand/depthwise are Conv-BN-ReLU6 ('conv.K.0' conv, 'conv.K.1' bn); the
    # linear projection is a bare conv then bn at the next two indices.
    parts = sub.split('.')
    k = int(parts[1])
    if len(parts) == 4:  # conv.K.{0,1}.param
        name, part = convs[k], 'conv' if parts[2] == '0' else 'bn'
    else:  # conv.K.param: linear conv (K = len(convs)-1) or its bn (K = len(convs))
        name, part = convs[-1], 'conv' if k == len(convs) - 1 else 'bn'
    return f'layer{stage}.{idx}.' + _conv_bn(name, part, parts[-1])


@register_converter(FAMILY, 'torchvision', r'features\.1\.conv\.0\.0\.weight')
def convert_torchvision(sd: StateDict) -> ConvertedCheckpoint:
    """torchvision ``features.*`` / ``classifier.1.*`` -> mmdet MobileNetV2."""
    return apply_rules(sd, [
        (r'features\.0\.([01])\.(\w+)',
         lambda m: _conv_bn('conv1', 'conv' if m.group(1) == '0' else 'bn', m.group(2))),
        (r'features\.18\.([01])\.(\w+)',
         lambda m: _conv_bn('conv2', 'conv' if m.group(1) == '0' else 'bn', m.group(2))),
        (r'features\.(\d+)\.(conv\.\d+(?:\.\d+)?\.\w+)', _torchvision_block),
        (r'classifier\.1\.(weight|bias)', lambda m: f'fc.{m.group(1)}'),
    ], 'torchvision')


_TIMM_PARTS = {
    # first stage (DepthwiseSeparableConv): conv_dw/bn1, conv_pw/bn2
    True: {'conv_dw': ('depthwise_conv', 'conv'), 'bn1': ('depthwise_conv', 'bn'),
           'conv_pw': ('linear_conv', 'conv'), 'bn2': ('linear_conv', 'bn')},
    # InvertedResidual: conv_pw/bn1, conv_dw/bn2, conv_pwl/bn3
    False: {'conv_pw': ('expand_conv', 'conv'), 'bn1': ('expand_conv', 'bn'),
            'conv_dw': ('depthwise_conv', 'conv'), 'bn2': ('depthwise_conv', 'bn'),
            'conv_pwl': ('linear_conv', 'conv'), 'bn3': ('linear_conv', 'bn')},
}


def _timm_block(m) -> str:
    stage, idx, module, param = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    name, part = _TIMM_PARTS[stage == 0][module]
    return f'layer{stage + 1}.{idx}.' + _conv_bn(name, part, param)


@register_converter(FAMILY, 'timm', r'blocks\.0\.0\.conv_dw\.weight')
def convert_timm(sd: StateDict) -> ConvertedCheckpoint:
    """timm ``mobilenetv2_100`` (``conv_stem``, ``blocks.S.J``, ``conv_head``) -> mmdet."""
    return apply_rules(sd, [
        (r'conv_stem\.(\w+)', lambda m: f'conv1.conv.{m.group(1)}'),
        (r'bn1\.(\w+)', lambda m: f'conv1.bn.{m.group(1)}'),
        (r'conv_head\.(\w+)', lambda m: f'conv2.conv.{m.group(1)}'),
        (r'bn2\.(\w+)', lambda m: f'conv2.bn.{m.group(1)}'),
        (r'blocks\.(\d+)\.(\d+)\.(conv_pw|conv_dw|conv_pwl|bn1|bn2|bn3)\.(\w+)', _timm_block),
        (r'classifier\.(weight|bias)', lambda m: f'fc.{m.group(1)}'),
    ], 'timm')


def _mmpretrain_block(m) -> str:
    stage, idx, k, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
    convs = CONV_NAMES if stage > 1 else CONV_NAMES[1:]
    return f'layer{stage}.{idx}.{convs[k]}.{rest}'


@register_converter(FAMILY, 'mmpretrain', r'backbone\.layer1\.0\.conv\.0\.conv\.weight')
def convert_mmpretrain(sd: StateDict) -> ConvertedCheckpoint:
    """mmpretrain/mmcls ``backbone.layerS.J.conv.K.*`` / ``head.fc.*`` -> mmdet."""
    return apply_rules(sd, [
        (r'backbone\.(conv[12]\.\w+\.\w+)', lambda m: m.group(1)),
        (r'backbone\.layer(\d)\.(\d+)\.conv\.(\d)\.(\w+\.\w+)', _mmpretrain_block),
        (r'head\.fc\.(weight|bias)', lambda m: f'fc.{m.group(1)}'),
    ], 'mmpretrain')


register_converter(FAMILY, 'mmdet',
                   r'(backbone\.)?layer1\.0\.depthwise_conv\.conv\.weight')(convert_mmdet)
