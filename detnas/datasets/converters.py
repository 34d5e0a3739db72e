"""Key converters: foreign ImageNet checkpoints -> the key names of mmdet's backbones.

A converter takes a flat state dict in one *layout* (torchvision, timm, mmpretrain, mmdet)
of one *family* (MobileNetV2, ResNet) and returns a :class:`ConvertedCheckpoint`: the
backbone tensors under mmdet's names (``conv1.conv.weight``, ``layer2.0.expand_conv.bn.bias``
for MobileNetV2; torchvision names for ResNet), the classifier as ``fc.weight`` /
``fc.bias`` (kept apart: detectors drop it, the ImageNet sanity check uses it) and the keys
that were left over. New layouts plug in with :func:`register_converter`.
"""
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from torch import Tensor

from ..utils.errors import DetnasInputError

StateDict = Dict[str, Tensor]

# torchvision / mmdet MobileNetV2: blocks per stage (expansion 1 for the first stage only)
MBV2_STAGE_BLOCKS = (1, 2, 3, 4, 3, 3, 1)
MBV2_CONV_NAMES = ('expand_conv', 'depthwise_conv', 'linear_conv')


@dataclass
class ConvertedCheckpoint:
    """A checkpoint in mmdet's backbone key names.

    Args:
        backbone: backbone tensors under the target backbone's names.
        classifier: ImageNet classifier tensors as ``fc.weight`` / ``fc.bias`` (may be empty).
        unused: source keys no rule mapped.
        layout: the source layout that was detected or given.
    """
    backbone: StateDict
    classifier: StateDict = field(default_factory=dict)
    unused: List[str] = field(default_factory=list)
    layout: str = ''


_CONVERTERS: Dict[Tuple[str, str], Callable[[StateDict], ConvertedCheckpoint]] = {}


def register_converter(family: str, layout: str):
    """Decorator registering ``fn(state_dict) -> ConvertedCheckpoint`` for a family/layout."""

    def wrap(fn):
        _CONVERTERS[(family, layout)] = fn
        return fn

    return wrap


def _mbv2_block_index(flat: int) -> Tuple[int, int]:
    """Flat block index (1-based, torchvision ``features.N``) -> (stage 1..7, index)."""
    start = 1
    for stage, count in enumerate(MBV2_STAGE_BLOCKS, 1):
        if flat < start + count:
            return stage, flat - start
        start += count
    raise KeyError(f'MobileNetV2 has no block {flat}')


def _conv_bn(prefix: str, part: str, param: str) -> str:
    return f'{prefix}.{"conv" if part == "conv" else "bn"}.{param}'


def _apply_rules(state_dict: StateDict, rules: List[Tuple[str, Callable]], layout: str
                 ) -> ConvertedCheckpoint:
    """Renames keys by the first matching (regex, fn(match) -> new key) rule.

    ``fn`` returning a key starting with ``'fc.'`` sends the tensor to the classifier.
    """
    out = ConvertedCheckpoint(backbone={}, layout=layout)
    compiled = [(re.compile(p), fn) for p, fn in rules]
    for key, value in state_dict.items():
        for pattern, fn in compiled:
            m = pattern.fullmatch(key)
            if m:
                new = fn(m)
                (out.classifier if new.startswith('fc.') else out.backbone)[new] = value
                break
        else:
            out.unused.append(key)
    return out


def _tv_mbv2_block(m) -> str:
    flat, sub = int(m.group(1)), m.group(2)
    stage, idx = _mbv2_block_index(flat)
    convs = MBV2_CONV_NAMES if flat > 1 else MBV2_CONV_NAMES[1:]
    # torchvision: expand/depthwise are Conv-BN-ReLU6 ('conv.K.0' conv, 'conv.K.1' bn); the
    # linear projection is a bare conv then bn at the next two indices.
    parts = sub.split('.')
    k = int(parts[1])
    if len(parts) == 4:  # conv.K.{0,1}.param
        name, part = convs[k], 'conv' if parts[2] == '0' else 'bn'
    else:  # conv.K.param: linear conv (K = len(convs)-1) or its bn (K = len(convs))
        name, part = convs[-1], 'conv' if k == len(convs) - 1 else 'bn'
    return f'layer{stage}.{idx}.' + _conv_bn(name, part, parts[-1])


@register_converter('mobilenet_v2', 'torchvision')
def convert_torchvision_mobilenet_v2(sd: StateDict) -> ConvertedCheckpoint:
    """torchvision ``features.*`` / ``classifier.1.*`` -> mmdet MobileNetV2."""
    return _apply_rules(sd, [
        (r'features\.0\.([01])\.(\w+)',
         lambda m: _conv_bn('conv1', 'conv' if m.group(1) == '0' else 'bn', m.group(2))),
        (r'features\.18\.([01])\.(\w+)',
         lambda m: _conv_bn('conv2', 'conv' if m.group(1) == '0' else 'bn', m.group(2))),
        (r'features\.(\d+)\.(conv\.\d+(?:\.\d+)?\.\w+)', _tv_mbv2_block),
        (r'classifier\.1\.(weight|bias)', lambda m: f'fc.{m.group(1)}'),
    ], 'torchvision')


_TIMM_MBV2_PARTS = {
    # first stage (DepthwiseSeparableConv): conv_dw/bn1, conv_pw/bn2
    True: {'conv_dw': ('depthwise_conv', 'conv'), 'bn1': ('depthwise_conv', 'bn'),
           'conv_pw': ('linear_conv', 'conv'), 'bn2': ('linear_conv', 'bn')},
    # InvertedResidual: conv_pw/bn1, conv_dw/bn2, conv_pwl/bn3
    False: {'conv_pw': ('expand_conv', 'conv'), 'bn1': ('expand_conv', 'bn'),
            'conv_dw': ('depthwise_conv', 'conv'), 'bn2': ('depthwise_conv', 'bn'),
            'conv_pwl': ('linear_conv', 'conv'), 'bn3': ('linear_conv', 'bn')},
}


def _timm_mbv2_block(m) -> str:
    stage, idx, module, param = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    name, part = _TIMM_MBV2_PARTS[stage == 0][module]
    return f'layer{stage + 1}.{idx}.' + _conv_bn(name, part, param)


@register_converter('mobilenet_v2', 'timm')
def convert_timm_mobilenet_v2(sd: StateDict) -> ConvertedCheckpoint:
    """timm ``mobilenetv2_100`` (``conv_stem``, ``blocks.S.J``, ``conv_head``) -> mmdet."""
    return _apply_rules(sd, [
        (r'conv_stem\.(\w+)', lambda m: f'conv1.conv.{m.group(1)}'),
        (r'bn1\.(\w+)', lambda m: f'conv1.bn.{m.group(1)}'),
        (r'conv_head\.(\w+)', lambda m: f'conv2.conv.{m.group(1)}'),
        (r'bn2\.(\w+)', lambda m: f'conv2.bn.{m.group(1)}'),
        (r'blocks\.(\d+)\.(\d+)\.(conv_pw|conv_dw|conv_pwl|bn1|bn2|bn3)\.(\w+)',
         _timm_mbv2_block),
        (r'classifier\.(weight|bias)', lambda m: f'fc.{m.group(1)}'),
    ], 'timm')


def _mmpre_mbv2_block(m) -> str:
    stage, idx, k, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
    convs = MBV2_CONV_NAMES if stage > 1 else MBV2_CONV_NAMES[1:]
    return f'layer{stage}.{idx}.{convs[k]}.{rest}'


@register_converter('mobilenet_v2', 'mmpretrain')
def convert_mmpretrain_mobilenet_v2(sd: StateDict) -> ConvertedCheckpoint:
    """mmpretrain/mmcls ``backbone.layerS.J.conv.K.*`` / ``head.fc.*`` -> mmdet."""
    return _apply_rules(sd, [
        (r'backbone\.(conv[12]\.\w+\.\w+)', lambda m: m.group(1)),
        (r'backbone\.layer(\d)\.(\d+)\.conv\.(\d)\.(\w+\.\w+)', _mmpre_mbv2_block),
        (r'head\.fc\.(weight|bias)', lambda m: f'fc.{m.group(1)}'),
    ], 'mmpretrain')


@register_converter('mobilenet_v2', 'mmdet')
@register_converter('resnet', 'mmdet')
def convert_mmdet(sd: StateDict) -> ConvertedCheckpoint:
    """An mmdet backbone state dict (optionally under ``backbone.``): kept as is."""
    return _apply_rules(sd, [
        (r'(?:backbone\.)?(fc\.(?:weight|bias))', lambda m: m.group(1)),
        (r'(?:backbone\.)?((?:conv|bn|layer)\w*\..+)', lambda m: m.group(1)),
    ], 'mmdet')


@register_converter('resnet', 'torchvision')
@register_converter('resnet', 'timm')
def convert_torchvision_resnet(sd: StateDict) -> ConvertedCheckpoint:
    """torchvision and timm ResNets already use mmdet's ResNet names; ``fc`` is the head."""
    return _apply_rules(sd, [
        (r'(fc\.(?:weight|bias))', lambda m: m.group(1)),
        (r'((?:conv1|bn1|layer\d)\..+)', lambda m: m.group(1)),
    ], 'torchvision')


@register_converter('resnet', 'mmpretrain')
def convert_mmpretrain_resnet(sd: StateDict) -> ConvertedCheckpoint:
    """mmpretrain ResNet (``backbone.*``, ``head.fc.*``) -> mmdet ResNet."""
    return _apply_rules(sd, [
        (r'backbone\.(.+)', lambda m: m.group(1)),
        (r'head\.fc\.(weight|bias)', lambda m: f'fc.{m.group(1)}'),
    ], 'mmpretrain')


_LAYOUT_SIGNATURES = [
    # (family, layout, a key only that layout has)
    ('mobilenet_v2', 'torchvision', r'features\.1\.conv\.0\.0\.weight'),
    ('mobilenet_v2', 'timm', r'blocks\.0\.0\.conv_dw\.weight'),
    ('mobilenet_v2', 'mmpretrain', r'backbone\.layer1\.0\.conv\.0\.conv\.weight'),
    ('mobilenet_v2', 'mmdet', r'(backbone\.)?layer1\.0\.depthwise_conv\.conv\.weight'),
    # mmdet detector checkpoints share mmpretrain's 'backbone.' prefix; both convert alike
    ('resnet', 'mmpretrain', r'backbone\.layer1\.0\.conv1\.weight'),
    ('resnet', 'torchvision', r'layer1\.0\.conv1\.weight'),
]


def unwrap_state_dict(checkpoint) -> StateDict:
    """Returns the flat tensor dict of a loaded checkpoint (``state_dict``/``model`` keys)."""
    if isinstance(checkpoint, dict):
        for key in ('state_dict', 'model', 'module'):
            if key in checkpoint and isinstance(checkpoint[key], dict):
                return unwrap_state_dict(checkpoint[key])
        sd = {k[7:] if k.startswith('module.') else k: v for k, v in checkpoint.items()
              if isinstance(v, Tensor)}
        if sd:
            return sd
    raise ValueError('the checkpoint holds no tensors (expected a state dict, or a dict '
                     "with 'state_dict' / 'model')")


def detect_layout(sd: StateDict) -> Tuple[str, str]:
    """Guesses (family, layout) from the keys; raises DetnasInputError when nothing fits."""
    for family, layout, signature in _LAYOUT_SIGNATURES:
        pattern = re.compile(signature)
        if any(pattern.fullmatch(k) for k in sd):
            return family, layout
    sample = ', '.join(list(sd)[:5])
    raise DetnasInputError(f'cannot tell the layout of this checkpoint (first keys: {sample}); '
                           f'known: {sorted(set((f, l) for f, l, _ in _LAYOUT_SIGNATURES))}')


def convert_checkpoint(sd: StateDict, family: Optional[str] = None,
                       layout: Optional[str] = None) -> ConvertedCheckpoint:
    """Converts a state dict to mmdet backbone names.

    Args:
        sd: flat state dict (see :func:`unwrap_state_dict`).
        family: ``'mobilenet_v2'`` or ``'resnet'``; detected when omitted.
        layout: ``'torchvision'``, ``'timm'``, ``'mmpretrain'`` or ``'mmdet'``; detected
            when omitted.
    """
    if family is None or layout is None:
        found_family, found_layout = detect_layout(sd)
        family, layout = family or found_family, layout or found_layout
    try:
        fn = _CONVERTERS[(family, layout)]
    except KeyError:
        raise DetnasInputError(f'no converter for family {family!r} in layout {layout!r}; '
                       f'registered: {sorted(_CONVERTERS)}') from None
    return fn(sd)
