"""The ResNet backbone search space: widths, depths and the operation of every block.

One entry per seed stage::

    search_space = dict(stages=[
        dict(widths=[192, 256, 320], depth=(2, 3),
             ops=[dict(op='res_block', kernel=3),                 # the seed's 3x3
                  dict(op='res_block', kernel=3, dilation=2),     # dilated 3x3
                  dict(op='res_block', kernel=3, groups=4),       # grouped 3x3
                  dict(op='yolov7_elan', num_convs=2)]),          # any registered op
        ...])

Per stage: ``widths`` (output channels of every block of the stage; multiples of the
block's expansion, 4 for a bottleneck), ``depth`` (min, max number of blocks: the first
``depth`` ones) and ``ops`` (the choices of every layer; default the seed's plain 3x3 block).
``'res_block'`` is a residual block of the seed's kind whose spatial convs take ``kernel``,
``dilation`` and ``groups``; any other op is looked up in ``detnas.registry.SEARCH_OPS`` and
built as ``OP(in_channels, out_channels, stride, **options)``. Strides are the seed's.

An arch is ``{'stages': [{'width': W, 'depth': D, 'layers': [L, ...]}, ...]}`` with each
layer one of the stage's ``ops`` in canonical form (``res_block`` layers always carry
``kernel``, ``dilation`` and ``groups``); genes and yaml as in :mod:`detnas.nas.space`.
"""
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from detnas.models.backbones.adapted_resnet import (EXPANSION, RES_BLOCK, RESNET_ARCH,
                                                    res_layer, resnet_stages)
from detnas.registry import SEARCH_OPS
from detnas.utils.errors import DetnasInputError
from ...space import (StagedSearchSpace, check_stage_keys, depth_choices, parse_choices,
                      stage_key)

STAGE_KEYS = ('widths', 'depth', 'ops')
MOBILENET_V2_OPS = ('mbconv', 'skip')  # registered, but layers of the MobileNetV2 space
RES_OPTIONS = ('kernel', 'dilation', 'groups')


def _cost_rank(layer: dict) -> Tuple:
    """Orders residual-block layers by cost: kernel up, groups down (dilation is free)."""
    return (layer['kernel'], -layer['groups'], -layer['dilation'])


@dataclass(frozen=True)
class ResNetStageSpace:
    """The validated choices of one ResNet stage.

    Args:
        widths: output-channel choices, ascending.
        depths: depth choices, ascending.
        ops: layer choices in canonical form (res-block layers first, by cost).
        stride: stride of the first block (the seed's).
    """
    widths: Tuple[int, ...]
    depths: Tuple[int, ...]
    ops: Tuple[Dict[str, Any], ...]
    stride: int

    @property
    def max_depth(self) -> int:
        return self.depths[-1]

    @property
    def res_ops(self) -> List[Dict[str, Any]]:
        return [dict(o) for o in self.ops if o['op'] == RES_BLOCK]

    @property
    def plugin_ops(self) -> List[Tuple[int, Dict[str, Any]]]:
        """``(choice index, layer)`` of the registered (non residual-block) ops."""
        return [(i, dict(o)) for i, o in enumerate(self.ops) if o['op'] != RES_BLOCK]

    def layer_choices(self, index: int) -> List[Dict[str, Any]]:
        """The ops any layer may take (the same for every layer)."""
        return [dict(o) for o in self.ops]

    def canonical(self, layer):
        return canonical_layer(layer) if isinstance(layer, dict) else layer

    def largest_layer(self) -> Dict[str, Any]:
        """The most expensive residual-block layer."""
        return max(self.res_ops, key=_cost_rank)

    def smallest_layer(self) -> Dict[str, Any]:
        """The cheapest residual-block layer."""
        return min(self.res_ops, key=_cost_rank)

    def cheapest_layers(self, depth: int) -> List[Dict[str, Any]]:
        return [self.smallest_layer() for _ in range(depth)]

    @staticmethod
    def layer_key(layer: Dict[str, Any]):
        return json.dumps(layer, sort_keys=True)


def canonical_layer(layer: dict) -> dict:
    """A layer dict with a residual block's defaults filled in (other ops as given)."""
    layer = dict(layer)
    if layer.get('op', RES_BLOCK) == RES_BLOCK:
        layer.pop('op', None)
        return res_layer(**{k: layer.pop(k) for k in RES_OPTIONS if k in layer}) | layer
    return layer


def _parse_op(value, where: str) -> dict:
    if isinstance(value, str):
        value = dict(op=value)
    if not isinstance(value, dict):
        raise DetnasInputError(f'{where} must be a dict such as dict(op={RES_BLOCK!r}, '
                               f'kernel=3, dilation=2), got {value!r}')
    layer = canonical_layer(value)
    op = layer['op']
    if op == RES_BLOCK:
        unknown = sorted(set(layer) - {'op', *RES_OPTIONS})
        if unknown:
            raise DetnasInputError(f'{where}: unknown {RES_BLOCK} option(s) {unknown}; '
                                   f'allowed: {list(RES_OPTIONS)}')
        for key in RES_OPTIONS:
            v = layer[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise DetnasInputError(f'{where}.{key} must be a positive integer, got {v!r}')
        if layer['kernel'] % 2 == 0:
            raise DetnasInputError(f'{where}.kernel must be odd (same padding), got '
                                   f'{layer["kernel"]}')
    elif op not in SEARCH_OPS.module_dict:
        raise DetnasInputError(f'{where}: unknown op {op!r}; registered search ops: '
                               f'{sorted(SEARCH_OPS.module_dict)}')
    elif op in MOBILENET_V2_OPS:
        raise DetnasInputError(f'{where}: op {op!r} belongs to the MobileNetV2 space')
    return layer


def parse_resnet_stage(cfg: dict, index: int, seed: dict, block: str,
                       in_widths: Sequence[int]) -> ResNetStageSpace:
    """Validates one stage entry of a ResNet ``search_space.stages``.

    Args:
        cfg: the stage dict.
        index: its position (for messages).
        seed: the seed stage (``dict(width, stride, layers)``).
        block: ``'basic'`` or ``'bottleneck'``.
        in_widths: the input width choices of its first block.

    Raises:
        DetnasInputError: a key is unknown, a choice list is empty, a width is not a
            multiple of the expansion, a group count does not divide a width, or an op is
            not registered.
    """
    check_stage_keys(cfg, index, STAGE_KEYS, ('widths', 'depth'), 'ResNet')
    widths = parse_choices(cfg['widths'], 'widths', index)
    expansion = EXPANSION[block]
    bad = [w for w in widths if w % expansion]
    if bad:
        raise DetnasInputError(f'{stage_key(index, "widths")}: {block} widths must be '
                               f'multiples of its expansion {expansion}, got {bad}')
    depths = depth_choices(cfg['depth'], index)
    raw_ops = cfg.get('ops', [res_layer()])
    if not isinstance(raw_ops, (list, tuple)) or not raw_ops:
        raise DetnasInputError(f'{stage_key(index, "ops")} must be a non-empty list of ops, '
                               f'got {raw_ops!r}')
    ops = [_parse_op(o, f'{stage_key(index, "ops")}[{i}]') for i, o in enumerate(raw_ops)]
    if len({json.dumps(o, sort_keys=True) for o in ops}) != len(ops):
        raise DetnasInputError(f'{stage_key(index, "ops")} lists an op twice: {ops}')
    res_ops = sorted((o for o in ops if o['op'] == RES_BLOCK), key=_cost_rank)
    if not res_ops:
        raise DetnasInputError(f'{stage_key(index, "ops")} needs at least one {RES_BLOCK!r} op '
                               '(the largest and smallest sub-nets are built from them)')
    for o in res_ops:
        for w in widths:
            mid = w // expansion
            ins = sorted({*in_widths, w}) if block == 'basic' else [mid]
            if mid % o['groups'] or any(c % o['groups'] for c in ins):
                raise DetnasInputError(
                    f'{stage_key(index, "ops")}: groups={o["groups"]} does not divide the '
                    f'channels of a {block} block of width {w} (mid {mid}, inputs {ins}); '
                    'use a group count that divides every width choice')
    ops = res_ops + [o for o in ops if o['op'] != RES_BLOCK]
    return ResNetStageSpace(widths, depths, tuple(ops), seed['stride'])


class ResNetSearchSpace(StagedSearchSpace):
    """A ResNet backbone search space around a seed (see the module docstring).

    Args:
        stages: one dict per seed stage.
        seed_depth: the seed's depth (18, 34, 50, 101, 152): its block kind and, without
            ``seed_stages``, its stages.
        seed_stages: the seed's stages in :class:`AdaptedResNet` form (residual-block
            layers only), when it is not a published ResNet.
        seed_block: the seed's block kind when ``seed_depth`` does not give it.
        stem_channels: the seed's stem width.
        require_seed: raise when the seed architecture is not in the space.

    Raises:
        DetnasInputError: the config is malformed or (``require_seed``) the seed does not
            fit; the message names the key.
    """

    def __init__(self, stages: Sequence[dict], seed_depth: int = 50,
                 seed_stages: Optional[Sequence[dict]] = None,
                 seed_block: Optional[str] = None, stem_channels: int = 64,
                 require_seed: bool = True):
        if not isinstance(stages, (list, tuple)) or not stages:
            raise DetnasInputError('search_space.stages must be a non-empty list with one dict '
                                   f'per seed stage, got {stages!r}')
        if seed_stages is None and seed_depth not in RESNET_ARCH:
            raise DetnasInputError(f'the ResNet seed depth must be one of '
                                   f'{sorted(RESNET_ARCH)}, got {seed_depth!r}')
        self.block = seed_block or RESNET_ARCH[seed_depth][0]
        self.seed = [dict(s, layers=[canonical_layer(l) for l in s['layers']])
                     for s in (seed_stages or resnet_stages(seed_depth))]
        if len(stages) != len(self.seed):
            raise DetnasInputError(f'search_space.stages has {len(stages)} entries but the seed '
                                   f'has {len(self.seed)} stages; give one entry per stage')
        parsed, in_widths = [], [stem_channels]
        for i, (cfg, seed) in enumerate(zip(stages, self.seed)):
            parsed.append(parse_resnet_stage(cfg, i, seed, self.block, in_widths))
            in_widths = list(parsed[-1].widths)
        super().__init__(parsed, require_seed)

    def seed_stage_archs(self) -> List[dict]:
        return [dict(width=s['width'], depth=len(s['layers']), layers=list(s['layers']))
                for s in self.seed]


def resnet_search_space(depth: int = 50) -> dict:
    """A default space around a published ResNet: widths 0.75x / 1x / 1.25x the seed's
    (rounded so that the mid width is a multiple of 8), depth -1 / +1, and per block the
    plain, dilated (2) and grouped (4 groups) 3x3."""
    ops = [res_layer(), res_layer(dilation=2), res_layer(groups=4)]
    step = 8 * EXPANSION[RESNET_ARCH[depth][0]]
    return dict(stages=[
        dict(widths=sorted({round(s['width'] * f / step) * step for f in (0.75, 1, 1.25)}),
             depth=(max(1, len(s['layers']) - 1), len(s['layers']) + 1), ops=ops)
        for s in resnet_stages(depth)])
