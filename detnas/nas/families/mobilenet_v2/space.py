"""The MobileNetV2 search space: per stage widths and depth, per layer the depthwise kernel
and expansion ratio of an inverted residual, or a skip.

One entry per seed stage::

    search_space = dict(stages=[
        dict(widths=[16], depth=(1, 1), kernels=[3], expand_ratios=[1]),
        dict(widths=[16, 24, 32], depth=(1, 3), kernels=[3, 5, 7], expand_ratios=[3, 4, 6],
             allow_skip=True),
        ...])

Per stage: ``widths`` (output channels of every block of the stage), ``depth`` (min, max
number of active blocks: the first ``depth`` ones), ``kernels`` (odd depthwise kernel sizes),
``expand_ratios`` (1 only on its own: such a stage has no expansion conv), ``allow_skip``
(layers after the first may be the identity) and ``op`` (the layer op's name in
``detnas.registry.SEARCH_OPS``, default ``'mbconv'``). Strides and dilations are the seed's.
A layer of an arch is ``{'op': 'mbconv', 'kernel': K, 'expand_ratio': E}`` or
``{'op': 'skip'}`` (genes and yaml as in :mod:`detnas.nas.space`).
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

from detnas.models.backbones.adapted_mobilenet_v2 import (MOBILENET_V2_ARCH,
                                                         resolve_mobilenet_v2_arch)
from detnas.registry import SEARCH_OPS
from detnas.utils.errors import DetnasInputError
from ...space import (StagedSearchSpace, check_stage_keys, depth_choices, parse_choices,
                      stage_key)
from .ops import MBCONV, SKIP

STAGE_KEYS = ('widths', 'depth', 'kernels', 'expand_ratios', 'allow_skip', 'op')
SUPPORTED_OPS = (MBCONV, )


@dataclass(frozen=True)
class SeedStage:
    """A seed stage: the fixed structure (stride, dilation) and the seed's own choices.

    Args:
        width: output channels.
        depth: number of blocks.
        kernels: depthwise kernel of each block.
        expand_ratios: expansion ratio of each block.
        stride: stride of the first block.
        dilation: depthwise dilation.
    """
    width: int
    depth: int
    kernels: Tuple[int, ...]
    expand_ratios: Tuple[float, ...]
    stride: int
    dilation: int


def seed_stages(arch_setting: Sequence[Sequence] = MOBILENET_V2_ARCH,
                widen_factor: float = 1.0) -> List[SeedStage]:
    """The seed's stages from an :class:`AdaptedMobileNetV2` arch table.

    Args:
        arch_setting: rows ``[expand_ratio, channels, num_blocks, stride(, kernel,
            dilation)]``.
        widen_factor: the seed's width multiplier.
    """
    layout = resolve_mobilenet_v2_arch(arch_setting, widen_factor=widen_factor)
    out = []
    for row, blocks in zip(arch_setting, layout.stages):
        expand = row[0] if isinstance(row[0], (list, tuple)) else [row[0]] * len(blocks)
        out.append(SeedStage(blocks[-1].out_channels, len(blocks),
                             tuple(b.kernel_size for b in blocks), tuple(expand),
                             blocks[0].stride, blocks[0].dilation))
    return out


@dataclass(frozen=True)
class StageSpace:
    """The validated choices of one stage.

    Args:
        widths: output-channel choices, ascending.
        depths: depth choices, ascending.
        kernels: kernel choices, ascending.
        expand_ratios: expansion choices, ascending.
        allow_skip: whether layers after the first may be skipped.
        op: the layer op's name in ``SEARCH_OPS``.
        stride: stride of the first block (the seed's).
        dilation: depthwise dilation (the seed's).
    """
    widths: Tuple[int, ...]
    depths: Tuple[int, ...]
    kernels: Tuple[int, ...]
    expand_ratios: Tuple[float, ...]
    allow_skip: bool
    op: str
    stride: int
    dilation: int

    @property
    def max_depth(self) -> int:
        return self.depths[-1]

    def layer_choices(self, index: int) -> List[Dict[str, Any]]:
        """The ops layer ``index`` may take (the first layer cannot be skipped)."""
        ops = [dict(op=self.op, kernel=k, expand_ratio=e)
               for k in self.kernels for e in self.expand_ratios]
        if self.allow_skip and index > 0:
            ops.append(dict(op=SKIP))
        return ops

    def canonical(self, layer):
        """A layer dict reduced to the keys its choice is compared by."""
        if isinstance(layer, dict) and layer.get('op') == self.op:
            return dict(op=self.op, kernel=layer.get('kernel'),
                        expand_ratio=layer.get('expand_ratio'))
        return layer

    def largest_layer(self) -> Dict[str, Any]:
        """The layer with the largest kernel and expansion."""
        return dict(op=self.op, kernel=self.kernels[-1], expand_ratio=self.expand_ratios[-1])

    def smallest_layer(self) -> Dict[str, Any]:
        """The layer with the smallest kernel and expansion."""
        return dict(op=self.op, kernel=self.kernels[0], expand_ratio=self.expand_ratios[0])

    def cheapest_layers(self, depth: int) -> List[Dict[str, Any]]:
        """The cheapest ``depth`` layers: the smallest one, then skips where allowed."""
        rest = dict(op=SKIP) if self.allow_skip else self.smallest_layer()
        return [self.smallest_layer()] + [dict(rest) for _ in range(depth - 1)]

    @staticmethod
    def layer_key(layer: Dict[str, Any]):
        """What a layer contributes to an arch fingerprint (None: it builds nothing)."""
        return None if layer['op'] == SKIP else [layer['kernel'], layer['expand_ratio']]


def parse_stage(cfg: dict, index: int, seed: SeedStage) -> StageSpace:
    """Validates one stage entry of ``search_space.stages``.

    Args:
        cfg: the stage dict.
        index: its position (for messages).
        seed: the seed stage it adapts (gives stride and dilation).

    Raises:
        DetnasInputError: a key is unknown, a choice list is empty, a kernel is even, the
            depth range is malformed or the op is not a registered search op.
    """
    check_stage_keys(cfg, index, STAGE_KEYS, ('widths', 'depth', 'kernels', 'expand_ratios'))
    widths = parse_choices(cfg['widths'], 'widths', index)
    odd = [w for w in widths if w % 8]
    if odd:
        raise DetnasInputError(f'{stage_key(index, "widths")}: widths must be multiples of 8 '
                               f'(MobileNetV2 rounds channels to them), got {odd}')
    kernels = parse_choices(cfg['kernels'], 'kernels', index)
    even = [k for k in kernels if k % 2 == 0]
    if even:
        raise DetnasInputError(f'{stage_key(index, "kernels")}: kernels must be odd (same '
                               f'padding), got {list(even)}')
    expands = parse_choices(cfg['expand_ratios'], 'expand_ratios', index, kind=float)
    if 1 in expands and len(expands) > 1:
        raise DetnasInputError(f'{stage_key(index, "expand_ratios")}: ratio 1 (no expansion '
                               f'conv) cannot be mixed with others, got {list(expands)}')
    depths = depth_choices(cfg['depth'], index)
    allow_skip = cfg.get('allow_skip', False)
    if not isinstance(allow_skip, bool):
        raise DetnasInputError(f'{stage_key(index, "allow_skip")} must be true or false, got '
                               f'{allow_skip!r}')
    op = cfg.get('op', MBCONV)
    if op not in SEARCH_OPS.module_dict:
        raise DetnasInputError(f'{stage_key(index, "op")}: unknown op {op!r}; registered search '
                               f'ops: {sorted(SEARCH_OPS.module_dict)}')
    if op not in SUPPORTED_OPS:
        raise DetnasInputError(f'{stage_key(index, "op")}: op {op!r} is registered but the '
                               f'MobileNetV2 space supports {list(SUPPORTED_OPS)} (plus '
                               'allow_skip) as layer ops')
    return StageSpace(widths, depths, kernels, expands,
                      allow_skip, op, seed.stride, seed.dilation)


class MobileNetV2SearchSpace(StagedSearchSpace):
    """A MobileNetV2 backbone search space around a seed.

    Args:
        stages: one dict per seed stage (see the module docstring).
        seed_arch_setting: the seed's arch table (strides, dilations and the seed arch).
        seed_widen_factor: the seed's width multiplier.
        require_seed: raise when the seed architecture is not in the space.

    Raises:
        DetnasInputError: the config is malformed or (``require_seed``) the seed does not
            fit; the message names the key.
    """

    def __init__(self, stages: Sequence[dict],
                 seed_arch_setting: Sequence[Sequence] = MOBILENET_V2_ARCH,
                 seed_widen_factor: float = 1.0, require_seed: bool = True):
        if not isinstance(stages, (list, tuple)) or not stages:
            raise DetnasInputError('search_space.stages must be a non-empty list with one dict '
                                   f'per seed stage, got {stages!r}')
        self.seed = seed_stages(seed_arch_setting, seed_widen_factor)
        if len(stages) != len(self.seed):
            raise DetnasInputError(f'search_space.stages has {len(stages)} entries but the seed '
                                   f'has {len(self.seed)} stages; give one entry per stage')
        super().__init__([parse_stage(cfg, i, s)
                          for i, (cfg, s) in enumerate(zip(stages, self.seed))], require_seed)

    def seed_stage_archs(self) -> List[dict]:
        return [dict(width=seed.width, depth=seed.depth,
                     layers=[dict(op=st.op, kernel=k, expand_ratio=e)
                             for k, e in zip(seed.kernels, seed.expand_ratios)])
                for st, seed in zip(self.stages, self.seed)]


def effective_layers(stage: dict) -> List[Tuple[int, dict]]:
    """``(layer index, layer)`` of the active, non-skipped layers of an arch stage."""
    return [(j, l) for j, l in enumerate(stage['layers'][:stage['depth']]) if l['op'] != SKIP]


def mobilenet_v2_search_space() -> dict:
    """A default space around the ImageNet MobileNetV2: widths around the seed's, depth
    ±1 (and up to 4), kernels {3,5,7}, expansions {3,4,6}, skips after the first layer."""
    mb = dict(kernels=[3, 5, 7], expand_ratios=[3, 4, 6], allow_skip=True)
    return dict(stages=[
        dict(widths=[16], depth=(1, 1), kernels=[3, 5, 7], expand_ratios=[1]),
        dict(widths=[16, 24, 32], depth=(1, 3), **mb),
        dict(widths=[24, 32, 40], depth=(2, 4), **mb),
        dict(widths=[48, 64, 80], depth=(3, 4), **mb),
        dict(widths=[72, 96, 112], depth=(2, 4), **mb),
        dict(widths=[128, 160, 192], depth=(2, 4), **mb),
        dict(widths=[256, 320], depth=(1, 1), **mb),
    ])
