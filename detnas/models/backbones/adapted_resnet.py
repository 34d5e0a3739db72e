"""ResNet whose stages are configurable in width, depth and the operation of every block:
the ResNet target of backbone adaptation and of the search's export.

A stage is ``dict(width=OUT_CHANNELS, stride=S, layers=[LAYER, ...])`` with one layer per
block. A layer is either a residual block of the network's kind (``'basic'`` or
``'bottleneck'``), ``dict(op='res_block', kernel=3, dilation=1, groups=1)``, whose spatial
convs (a bottleneck's ``conv2``, both convs of a basic block) take that kernel, dilation and
group count, or any op registered in ``detnas.registry.SEARCH_OPS``,
``dict(op=NAME, **options)``, built as ``NAME(in_channels, out_channels, stride,
**options)``.

With ``depth=18/34/50/101/152`` and no ``stages`` it is mmdet's ``ResNet`` (``style='pytorch'``):
the same state-dict keys (``conv1``, ``bn1``, ``layerS.J.{conv,bn}K``,
``layerS.J.downsample.{0,1}``) and the same outputs, so a seed checkpoint loads unchanged.
"""
import copy
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from .stage_freezing import StageFreezingMixin, default_init_cfg

from mmdet.registry import MODELS

RES_BLOCK = 'res_block'
EXPANSION = {'basic': 1, 'bottleneck': 4}
# depth -> (block kind, blocks per stage): He et al. 2016, Table 1
RESNET_ARCH = {18: ('basic', (2, 2, 2, 2)), 34: ('basic', (3, 4, 6, 3)),
               50: ('bottleneck', (3, 4, 6, 3)), 101: ('bottleneck', (3, 4, 23, 3)),
               152: ('bottleneck', (3, 8, 36, 3))}


def res_layer(kernel: int = 3, dilation: int = 1, groups: int = 1) -> dict:
    """A residual-block layer in canonical form."""
    return dict(op=RES_BLOCK, kernel=kernel, dilation=dilation, groups=groups)


def resnet_stages(depth: int, base_channels: int = 64) -> List[dict]:
    """The stages of the published ResNet-``depth`` in :class:`AdaptedResNet` form.

    Args:
        depth: 18, 34, 50, 101 or 152.
        base_channels: width of the first stage's 3x3 convs (64 in the paper).
    """
    if depth not in RESNET_ARCH:
        raise ValueError(f'ResNet depth must be one of {sorted(RESNET_ARCH)}, got {depth!r}')
    kind, blocks = RESNET_ARCH[depth]
    return [dict(width=base_channels * 2 ** i * EXPANSION[kind], stride=1 if i == 0 else 2,
                 layers=[res_layer() for _ in range(n)]) for i, n in enumerate(blocks)]


@dataclass(frozen=True)
class ResBlockSetting:
    """One residual block after the stage table is resolved.

    Args:
        kind: ``'basic'`` or ``'bottleneck'``.
        in_channels: input channels.
        out_channels: output channels.
        stride: stride (of ``conv2`` in a bottleneck, of ``conv1`` in a basic block).
        kernel_size: kernel of the spatial convs (odd).
        dilation: dilation of the spatial convs.
        groups: groups of the spatial convs.
    """
    kind: str
    in_channels: int
    out_channels: int
    stride: int = 1
    kernel_size: int = 3
    dilation: int = 1
    groups: int = 1

    @property
    def mid_channels(self) -> int:
        return self.out_channels // EXPANSION[self.kind]

    @property
    def with_downsample(self) -> bool:
        """mmdet's rule: a projection shortcut when the shape changes."""
        return self.stride != 1 or self.in_channels != self.out_channels


def check_block(setting: ResBlockSetting, where: str) -> None:
    """Raises ValueError naming ``where`` when a block setting cannot be built."""
    if setting.kind not in EXPANSION:
        raise ValueError(f'{where}: block must be one of {sorted(EXPANSION)}, got '
                         f'{setting.kind!r}')
    if setting.out_channels % EXPANSION[setting.kind]:
        raise ValueError(f'{where}: width {setting.out_channels} is not a multiple of the '
                         f'{setting.kind} expansion {EXPANSION[setting.kind]}')
    if setting.kernel_size % 2 == 0:
        raise ValueError(f'{where}: kernel must be odd (same padding), got '
                         f'{setting.kernel_size}')
    mid = setting.mid_channels
    ins = setting.in_channels if setting.kind == 'basic' else mid
    if setting.groups < 1 or mid % setting.groups or ins % setting.groups:
        raise ValueError(f'{where}: groups={setting.groups} must divide the {ins} input and '
                         f'{mid} output channels of the grouped conv')


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1,
          groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride, dilation * (kernel - 1) // 2, dilation,
                     groups, bias=False)


class AdaptedResBlock(nn.Module):
    """A basic or bottleneck residual block with mmdet's layer names.

    Args:
        setting: the block's :class:`ResBlockSetting`.
        norm_cfg: norm layer config.
    """

    def __init__(self, setting: ResBlockSetting, norm_cfg: dict = dict(type='BN')):
        super().__init__()
        check_block(setting, 'AdaptedResBlock')
        s, mid = setting, setting.mid_channels
        k, d, g = s.kernel_size, s.dilation, s.groups
        if s.kind == 'bottleneck':
            convs = [_conv(s.in_channels, mid, 1), _conv(mid, mid, k, s.stride, d, g),
                     _conv(mid, s.out_channels, 1)]
        else:
            convs = [_conv(s.in_channels, mid, k, s.stride, d, g),
                     _conv(mid, s.out_channels, k, 1, d, g)]
        for i, conv in enumerate(convs, 1):
            self.add_module(f'conv{i}', conv)
            self.add_module(f'bn{i}', build_norm_layer(norm_cfg, conv.out_channels)[1])
        self.num_convs = len(convs)
        self.downsample = nn.Sequential(
            _conv(s.in_channels, s.out_channels, 1, s.stride),
            build_norm_layer(norm_cfg, s.out_channels)[1]) if s.with_downsample else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for i in range(1, self.num_convs + 1):
            out = getattr(self, f'bn{i}')(getattr(self, f'conv{i}')(out))
            if i < self.num_convs:
                out = self.relu(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def build_layer(kind: str, layer: dict, in_channels: int, out_channels: int, stride: int,
                norm_cfg: dict, where: str) -> nn.Module:
    """The module of one stage layer (a residual block or a registered search op).

    Args:
        kind: ``'basic'`` or ``'bottleneck'``.
        layer: ``dict(op=..., **options)`` (see the module docstring).
        in_channels: input channels.
        out_channels: output channels.
        stride: stride.
        norm_cfg: norm config of residual blocks.
        where: the layer's name, for messages.
    """
    layer = dict(layer)
    op = layer.pop('op', RES_BLOCK)
    if op == RES_BLOCK:
        unknown = sorted(set(layer) - {'kernel', 'dilation', 'groups'})
        if unknown:
            raise ValueError(f'{where}: unknown {RES_BLOCK} option(s) {unknown}; allowed: '
                             'kernel, dilation, groups')
        return AdaptedResBlock(ResBlockSetting(kind, in_channels, out_channels, stride,
                                               layer.get('kernel', 3), layer.get('dilation', 1),
                                               layer.get('groups', 1)), norm_cfg)
    from detnas.registry import SEARCH_OPS
    if op not in SEARCH_OPS.module_dict:
        raise ValueError(f'{where}: unknown op {op!r}; registered search ops: '
                         f'{sorted(SEARCH_OPS.module_dict)}')
    return SEARCH_OPS.build(dict(type=op, in_channels=in_channels, out_channels=out_channels,
                                 stride=stride, **layer))


@MODELS.register_module()
class AdaptedResNet(StageFreezingMixin, BaseModule):
    """ResNet with per-stage widths and depths and per-block operations.

    Args:
        depth: 18, 34, 50, 101 or 152; gives the block kind and, without ``stages``, the
            published architecture.
        stages: per stage ``dict(width, stride, layers=[...])`` (see the module docstring);
            default :func:`resnet_stages` of ``depth``.
        block: ``'basic'`` or ``'bottleneck'``; default the kind of ``depth``.
        stem_channels: output channels of the 7x7 stem conv.
        out_indices: stages whose outputs are returned (0-based).
        frozen_stages: stages to freeze (-1: none, 0: the stem only).
        norm_cfg: norm layer config.
        norm_eval: keep BN layers in eval mode while training.
        zero_init_residual: zero the last BN of every residual block at init.
        init_cfg: initialisation config.
    """

    def __init__(self,
                 depth: int = 50,
                 stages: Optional[Sequence[dict]] = None,
                 block: Optional[str] = None,
                 stem_channels: int = 64,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 zero_init_residual: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg if init_cfg is not None else default_init_cfg())
        if depth not in RESNET_ARCH and (stages is None or block is None):
            raise ValueError(f'AdaptedResNet: depth must be one of {sorted(RESNET_ARCH)} '
                             f'(or give both stages and block), got {depth!r}')
        self.block = block or RESNET_ARCH[depth][0]
        self.stages = copy.deepcopy(list(stages) if stages is not None
                                    else resnet_stages(depth))
        for index in out_indices:
            if index not in range(len(self.stages)):
                raise ValueError(f'AdaptedResNet.out_indices must be in 0..'
                                 f'{len(self.stages) - 1}, got {index}')
        if frozen_stages not in range(-1, len(self.stages) + 1):
            raise ValueError(f'AdaptedResNet.frozen_stages must be in -1..{len(self.stages)}'
                             f', got {frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.zero_init_residual = zero_init_residual
        self.stem_channels = stem_channels

        self.conv1 = _conv(3, stem_channels, 7, stride=2)
        self.bn1 = build_norm_layer(norm_cfg, stem_channels)[1]
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.res_layers: List[str] = []
        in_channels = stem_channels
        for s, stage in enumerate(self.stages, 1):
            where = f'AdaptedResNet.stages[{s - 1}]'
            if not isinstance(stage, dict) or not {'width', 'stride', 'layers'} <= set(stage):
                raise ValueError(f'{where} must be a dict with width, stride and layers, got '
                                 f'{stage!r}')
            if not stage['layers']:
                raise ValueError(f'{where}.layers is empty; a stage needs at least one layer')
            blocks = []
            for j, layer in enumerate(stage['layers']):
                blocks.append(build_layer(self.block, layer, in_channels, stage['width'],
                                          stage['stride'] if j == 0 else 1, norm_cfg,
                                          f'{where}.layers[{j}]'))
                in_channels = stage['width']
            self.add_module(f'layer{s}', nn.Sequential(*blocks))
            self.res_layers.append(f'layer{s}')

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned output (for a neck's ``in_channels``)."""
        return tuple(self.stages[i]['width'] for i in self.out_indices)

    def forward(self, x: Tensor) -> tuple:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def init_weights(self) -> None:
        super().init_weights()
        is_pretrained = isinstance(self.init_cfg, dict) and \
            self.init_cfg.get('type') == 'Pretrained'
        if self.zero_init_residual and not is_pretrained:
            for m in self.modules():
                if isinstance(m, AdaptedResBlock):
                    nn.init.constant_(getattr(m, f'bn{m.num_convs}').weight, 0)

    def stem_modules(self) -> List[nn.Module]:
        return [self.conv1, self.bn1]
