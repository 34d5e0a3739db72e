"""The mapper's reading of ResNet state dicts (torchvision / mmdet names; Basic or
Bottleneck blocks, optional ResNeXt groups): a block without a projection shortcut writes
its input's channel space, one with a projection opens the stage's space."""
import re
from typing import Dict, List, Optional

from torch import Tensor

from detnas.models.backbones.adapted_resnet import RESNET_ARCH
from ...mapping.errors import MappingError
from ...mapping.spec import (INPUT_SPACE, ArchSpec, BlockNode, ConvNode, SpecFamily,
                             blocks_in, classifier_head, kernel_of, norm_of,
                             register_spec_family)
from .converters import FAMILY


def resnet_spec(sd: Dict[str, Tensor], meta: Optional[Dict[str, dict]] = None,
                classifier: Optional[Dict[str, Tensor]] = None) -> ArchSpec:
    """Spec of a ResNet-like state dict (torchvision/mmdet names; Basic or Bottleneck
    blocks, optional ResNeXt groups in ``conv2``).

    Args:
        sd: backbone state dict (``conv1.weight``, ``bn1``, ``layerS.J.convK``,
            ``layerS.J.downsample.{0,1}``).
        meta: optional per-conv ``groups``/``dilation`` from the module.
        classifier: optional ``fc.weight``/``fc.bias`` on the last stage.
    """
    meta = meta or {}
    if 'conv1.weight' not in sd:
        raise MappingError("not a ResNet state dict: no 'conv1.weight' (a deep stem or "
                           'another family; map it with mode=\'cross_family\')')
    blocks_by_stage = blocks_in(sd, r'layer(\d+)\.(\d+)\.conv1\.weight')
    if not blocks_by_stage:
        raise MappingError("not a ResNet state dict: no 'layerS.J.conv1' layers found (is "
                           "it a MobileNetV2 checkpoint? map it with mode='cross_family')")
    convs: List[ConvNode] = []
    blocks: List[BlockNode] = []
    spaces: Dict[str, int] = {INPUT_SPACE: 3}

    def add(key, norm, in_space, out_space, block=None, role=None, identity_init=False):
        w = sd[key + '.weight']
        out_c = int(w.shape[0])
        groups = meta.get(key, {}).get('groups')
        if groups is None:
            groups = max(1, spaces[in_space] // int(w.shape[1]))
        spaces.setdefault(out_space, out_c)
        convs.append(ConvNode(key, norm_of(sd, [norm]), in_space, out_space,
                              int(w.shape[1]) * groups, out_c, kernel_of(w), groups,
                              meta.get(key, {}).get('dilation', 1), block,
                              key[len(block) + 1:] if block else key,
                              identity_init, key + '.bias' in sd))

    add('conv1', 'bn1', INPUT_SPACE, 'stem')
    space = 'stem'
    for stage, indices in blocks_by_stage.items():
        for j in indices:
            name = f'layer{stage}.{j}'
            bottleneck = f'{name}.conv3.weight' in sd
            projected = f'{name}.downsample.0.weight' in sd
            out_space = f'layer{stage}' if projected else space
            add(f'{name}.conv1', f'{name}.bn1', space, f'{name}.mid1', name, 'conv1')
            if bottleneck:
                add(f'{name}.conv2', f'{name}.bn2', f'{name}.mid1', f'{name}.mid2', name,
                    'conv2')
                add(f'{name}.conv3', f'{name}.bn3', f'{name}.mid2', out_space, name, 'conv3')
            else:
                add(f'{name}.conv2', f'{name}.bn2', f'{name}.mid1', out_space, name, 'conv2')
            if projected:
                add(f'{name}.downsample.0', f'{name}.downsample.1', space, out_space, name,
                    'downsample.0', identity_init=True)
            blocks.append(BlockNode(name, stage, j, not projected,
                                    f'{name}.bn{3 if bottleneck else 2}'))
            space = out_space
    kind = 'bottleneck' if any(c.role == 'conv3' for c in convs) else 'basic'
    return ArchSpec(f'resnet_{kind}', convs, blocks, spaces,
                    classifier_head(classifier, space, spaces[space]))


def _matches(sd: Dict[str, Tensor]) -> bool:
    return any(re.match(r'layer\d+\.\d+\.conv1\.weight$', k) for k in sd)


def _seed_config(spec: ArchSpec) -> Optional[dict]:
    """mmdet's ResNet of the spec's published depth (18, 34, 50, 101, 152), its last stage
    returned; None for other stage depths."""
    kind, depths = spec.family[len(FAMILY) + 1:], tuple(len(s) for s in spec.stages())
    depth = next((d for d, arch in RESNET_ARCH.items() if arch == (kind, depths)), None)
    return None if depth is None else dict(type='ResNet', depth=depth, out_indices=(3, ))


register_spec_family(SpecFamily(FAMILY, _matches, resnet_spec, _seed_config))
