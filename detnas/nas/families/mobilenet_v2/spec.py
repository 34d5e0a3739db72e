"""The mapper's reading of MobileNetV2 state dicts (mmdet ``MobileNetV2`` and
:class:`~detnas.models.backbones.AdaptedMobileNetV2` names): one channel space per stage
output chain, one hidden space per block, blocks closed by their linear BN."""
import re
from typing import Dict, List, Optional

from torch import Tensor

from ...mapping.errors import MappingError
from ...mapping.spec import (INPUT_SPACE, ArchSpec, BlockNode, ConvNode, SpecFamily,
                             blocks_in, classifier_head, kernel_of, norm_of,
                             register_spec_family)
from .converters import FAMILY


def mobilenet_v2_spec(sd: Dict[str, Tensor], meta: Optional[Dict[str, dict]] = None,
                      classifier: Optional[Dict[str, Tensor]] = None) -> ArchSpec:
    """Spec of a MobileNetV2-like state dict in mmdet names.

    Args:
        sd: backbone state dict (``conv1.conv.weight``, ``layerS.J.depthwise_conv...``).
        meta: optional per-conv facts from the module (``groups``, ``dilation``) and per-block
            ``residual`` flags; without it a block is residual when its input and output
            widths are equal.
        classifier: optional ``fc.weight``/``fc.bias`` on the last conv.
    """
    meta = meta or {}
    if 'conv1.conv.weight' not in sd:
        raise MappingError('not a MobileNetV2 state dict in mmdet names: no '
                           "'conv1.conv.weight' (convert it with "
                           'detnas.checkpoints.convert_checkpoint first)')
    blocks_by_stage = blocks_in(sd, r'layer(\d+)\.(\d+)\.depthwise_conv\.conv\.weight')
    if not blocks_by_stage:
        raise MappingError("not a MobileNetV2 state dict: no 'layerS.J.depthwise_conv' "
                           'layers found (is it a ResNet checkpoint? map it with '
                           "mode='cross_family')")
    convs: List[ConvNode] = []
    blocks: List[BlockNode] = []
    spaces: Dict[str, int] = {INPUT_SPACE: 3}

    def add(key, in_space, out_space, block=None, role=None, identity_init=False,
            depthwise=False):
        w = sd[key + '.weight']
        out_c = int(w.shape[0])
        groups = meta.get(key, {}).get('groups', out_c if depthwise else 1)
        in_c = int(w.shape[1]) * groups
        spaces.setdefault(out_space, out_c)
        convs.append(ConvNode(
            key, norm_of(sd, [key[:-len('conv')] + 'bn']), in_space, out_space, in_c,
            out_c, kernel_of(w), groups, meta.get(key, {}).get('dilation', 1), block,
            key[len(block) + 1:] if block else key, identity_init, key + '.bias' in sd))

    add('conv1.conv', INPUT_SPACE, 'stem')
    space = 'stem'
    for stage, indices in blocks_by_stage.items():
        if indices != list(range(len(indices))):
            raise MappingError(f'stage layer{stage}: block indices {indices} are not '
                               'consecutive from 0')
        for j in indices:
            name = f'layer{stage}.{j}'
            in_c = spaces[space]
            out_c = int(sd[f'{name}.linear_conv.conv.weight'].shape[0])
            residual = meta.get(name, {}).get('residual', in_c == out_c)
            out_space = space if residual else f'layer{stage}'
            if f'{name}.expand_conv.conv.weight' in sd:
                mid = f'{name}.mid'
                add(f'{name}.expand_conv.conv', space, mid, name, 'expand_conv', True)
            else:
                mid = space
            add(f'{name}.depthwise_conv.conv', mid, mid, name, 'depthwise_conv',
                depthwise=True)
            add(f'{name}.linear_conv.conv', mid, out_space, name, 'linear_conv')
            blocks.append(BlockNode(name, stage, j, residual, f'{name}.linear_conv.bn',
                                    linear_out=True))
            space = out_space
    if 'conv2.conv.weight' in sd:
        add('conv2.conv', space, 'last')
        space = 'last'
    return ArchSpec('mobilenet_v2', convs, blocks, spaces,
                    classifier_head(classifier, space, spaces[space]))


def _matches(sd: Dict[str, Tensor]) -> bool:
    return any(re.match(r'layer\d+\.\d+\.depthwise_conv\.conv\.weight$', k) for k in sd)


def _seed_config(spec: ArchSpec) -> Optional[dict]:
    """The ImageNet MobileNetV2 (the defaults of ``AdaptedMobileNetV2``), its last conv
    returned."""
    return dict(type='AdaptedMobileNetV2', out_indices=(7, ))


register_spec_family(SpecFamily(FAMILY, _matches, mobilenet_v2_spec, _seed_config))
