"""MobileNetV2 whose stages are configurable in width, depth, kernel size, expansion ratio
and dilation: the target of backbone adaptation and of the search's export.

With the default table it is mmdet's ``MobileNetV2``: the same state-dict keys
(``conv1``, ``layerS.J.{expand_conv,depthwise_conv,linear_conv}.{conv,bn}``, ``conv2``) and
the same outputs, so a seed checkpoint loads into it unchanged.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet.models.utils import make_divisible
from mmdet.registry import MODELS
from .stage_freezing import StageFreezingMixin, default_init_cfg

Number = Union[int, float]

# [expand_ratio, channels, num_blocks, stride, kernel_size, dilation]; expand_ratio and
# kernel_size may also be per-block lists. The published MobileNetV2 (Sandler et al. 2018).
MOBILENET_V2_ARCH = [[1, 16, 1, 1, 3, 1], [6, 24, 2, 2, 3, 1], [6, 32, 3, 2, 3, 1],
                     [6, 64, 4, 2, 3, 1], [6, 96, 3, 1, 3, 1], [6, 160, 3, 2, 3, 1],
                     [6, 320, 1, 1, 3, 1]]


@dataclass(frozen=True)
class MBBlockSetting:
    """One inverted-residual block after the arch table is resolved.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        mid_channels: channels of the depthwise conv (``in_channels * expand_ratio``).
        kernel_size: depthwise kernel size (odd).
        stride: depthwise stride.
        dilation: depthwise dilation.
        with_expand_conv: whether a 1x1 expansion conv exists (``expand_ratio != 1``).
    """
    in_channels: int
    out_channels: int
    mid_channels: int
    kernel_size: int
    stride: int
    dilation: int
    with_expand_conv: bool

    @property
    def with_res_shortcut(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


@dataclass(frozen=True)
class MobileNetV2Layout:
    """A resolved MobileNetV2-like architecture: stem, blocks per stage, last conv.

    Args:
        stem_channels: output channels of ``conv1`` (3x3, stride 2).
        stages: per stage, its blocks in order.
        last_channels: output channels of ``conv2`` (1x1).
    """
    stem_channels: int
    stages: Tuple[Tuple[MBBlockSetting, ...], ...]
    last_channels: int


def _per_block(value, num_blocks: int, what: str, stage: int) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != num_blocks:
            raise ValueError(f'arch_setting stage {stage} (layer{stage}): {what} lists '
                             f'{len(value)} values for {num_blocks} blocks; give one per '
                             'block or a single number')
        return list(value)
    return [value] * num_blocks


def _positive_int(value, what: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f'{where}: {what} must be a positive integer, got {value!r}')
    return value


def resolve_mobilenet_v2_arch(arch_setting: Sequence[Sequence],
                              stem_channels: int = 32,
                              last_channels: int = 1280,
                              widen_factor: float = 1.0,
                              channel_divisor: int = 8) -> MobileNetV2Layout:
    """Turns an arch table into per-block settings (mmdet's rounding for ``widen_factor``).

    Args:
        arch_setting: rows ``[expand_ratio, channels, num_blocks, stride]`` with optional
            ``kernel_size`` (default 3) and ``dilation`` (default 1); ``expand_ratio`` and
            ``kernel_size`` may be per-block lists.
        stem_channels: channels of the stem conv before ``widen_factor``.
        last_channels: channels of the last 1x1 conv; scaled only when ``widen_factor > 1``
            (as mmdet does).
        widen_factor: width multiplier; scaled channels are rounded to multiples of
            ``channel_divisor``.
        channel_divisor: the rounding of scaled widths (8: mmdet's and MobileNetV2's; a
            smaller one reaches FLOPs between the multiples of 8, for uniform baselines).

    Raises:
        ValueError: a row is malformed or a width/depth/kernel is not a positive integer.
    """
    if not arch_setting:
        raise ValueError('arch_setting is empty; give at least one stage row '
                         '[expand_ratio, channels, num_blocks, stride]')
    divisor = _positive_int(channel_divisor, 'channel_divisor', 'AdaptedMobileNetV2')
    stem = make_divisible(_positive_int(stem_channels, 'stem_channels', 'conv1')
                          * widen_factor, divisor)
    in_channels = stem
    stages = []
    for s, row in enumerate(arch_setting, 1):
        where = f'arch_setting stage {s} (layer{s})'
        if not 4 <= len(row) <= 6:
            raise ValueError(f'{where}: expected [expand_ratio, channels, num_blocks, stride'
                             f'(, kernel_size, dilation)], got {list(row)!r}')
        expand, channels, num_blocks, stride = row[:4]
        kernel = row[4] if len(row) > 4 else 3
        dilation = _positive_int(row[5] if len(row) > 5 else 1, 'dilation', where)
        _positive_int(channels, 'channels', where)
        _positive_int(num_blocks, 'num_blocks', where)
        _positive_int(stride, 'stride', where)
        out_channels = make_divisible(channels * widen_factor, divisor)
        blocks = []
        for j, (ratio, k) in enumerate(zip(_per_block(expand, num_blocks, 'expand_ratio', s),
                                           _per_block(kernel, num_blocks, 'kernel_size', s))):
            here = f'{where} block {j} (layer{s}.{j})'
            if not isinstance(ratio, (int, float)) or ratio <= 0:
                raise ValueError(f'{here}: expand_ratio must be a positive number, got '
                                 f'{ratio!r}')
            if _positive_int(k, 'kernel_size', here) % 2 == 0:
                raise ValueError(f'{here}: kernel_size must be odd (same padding), got {k}')
            mid = int(round(in_channels * ratio))
            if mid <= 0:
                raise ValueError(f'{here}: expand_ratio {ratio} gives 0 channels')
            blocks.append(MBBlockSetting(in_channels, out_channels, mid, k,
                                         stride if j == 0 else 1, dilation, ratio != 1))
            in_channels = out_channels
        stages.append(tuple(blocks))
    _positive_int(last_channels, 'last_channels', 'conv2')
    last = int(last_channels * widen_factor) if widen_factor > 1.0 else last_channels
    return MobileNetV2Layout(stem, tuple(stages), last)


class AdaptedInvertedResidual(BaseModule):
    """Inverted residual block (1x1 expand, kxk depthwise, 1x1 linear) with mmdet's names.

    Args:
        setting: the block's resolved setting.
        conv_cfg: conv layer config.
        norm_cfg: norm layer config.
        act_cfg: activation config of the expand and depthwise convs.
        with_cp: use gradient checkpointing.
        init_cfg: initialisation config.
    """

    def __init__(self, setting: MBBlockSetting, conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU6'),
                 with_cp: bool = False, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.setting = setting
        self.with_cp = with_cp
        self.with_res_shortcut = setting.with_res_shortcut
        self.with_expand_conv = setting.with_expand_conv
        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        if setting.with_expand_conv:
            self.expand_conv = ConvModule(setting.in_channels, setting.mid_channels, 1,
                                          act_cfg=act_cfg, **common)
        elif setting.mid_channels != setting.in_channels:
            raise ValueError('a block without expand conv needs mid_channels == in_channels')
        k, d = setting.kernel_size, setting.dilation
        self.depthwise_conv = ConvModule(
            setting.mid_channels, setting.mid_channels, k, stride=setting.stride,
            padding=d * (k - 1) // 2, dilation=d, groups=setting.mid_channels,
            act_cfg=act_cfg, **common)
        self.linear_conv = ConvModule(setting.mid_channels, setting.out_channels, 1,
                                      act_cfg=None, **common)

    def forward(self, x: Tensor) -> Tensor:

        def _inner(x):
            out = self.expand_conv(x) if self.with_expand_conv else x
            out = self.linear_conv(self.depthwise_conv(out))
            return x + out if self.with_res_shortcut else out

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner, x, use_reentrant=False)
        return _inner(x)


@MODELS.register_module()
class AdaptedMobileNetV2(StageFreezingMixin, BaseModule):
    """MobileNetV2-like backbone, configurable per stage (and per block) in widths, depths,
    depthwise kernel sizes, expansion ratios and dilations.

    Output index ``i`` in ``0..num_stages-1`` is stage ``layer{i+1}``; index ``num_stages``
    is the last 1x1 conv ``conv2`` (mmdet's convention: (1, 2, 4, 7) for 7 stages).

    Args:
        arch: name of a table in ``arch_settings``; ignored when ``arch_setting`` is given.
        arch_setting: explicit table, rows ``[expand_ratio, channels, num_blocks, stride,
            kernel_size, dilation]`` (the last two optional; ``expand_ratio`` and
            ``kernel_size`` may be per-block lists).
        stem_channels: channels of the stem conv.
        last_channels: channels of the last 1x1 conv.
        widen_factor: width multiplier with mmdet's rounding.
        channel_divisor: scaled widths are multiples of it (8, as mmdet; see
            :func:`resolve_mobilenet_v2_arch`).
        out_indices: which outputs to return.
        frozen_stages: stages to freeze (-1: none; 0: the stem only).
        conv_cfg: conv layer config.
        norm_cfg: norm layer config.
        act_cfg: activation config.
        norm_eval: keep BN layers in eval mode while training.
        with_cp: use gradient checkpointing.
        init_cfg: initialisation config (a ``Pretrained`` entry loads a seed or mapped file).
    """
    arch_settings = {'mobilenet_v2': MOBILENET_V2_ARCH}

    def __init__(self,
                 arch: str = 'mobilenet_v2',
                 arch_setting: Optional[Sequence[Sequence]] = None,
                 stem_channels: int = 32,
                 last_channels: int = 1280,
                 widen_factor: float = 1.0,
                 channel_divisor: int = 8,
                 out_indices: Sequence[int] = (1, 2, 4, 7),
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU6'),
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None):
        super().__init__(init_cfg if init_cfg is not None else default_init_cfg())
        if arch_setting is None:
            if arch not in self.arch_settings:
                raise ValueError(f'arch {arch!r} is unknown; choose one of '
                                 f'{sorted(self.arch_settings)} or pass arch_setting')
            arch_setting = self.arch_settings[arch]
        self.layout = resolve_mobilenet_v2_arch(arch_setting, stem_channels, last_channels,
                                                widen_factor, channel_divisor)
        num_stages = len(self.layout.stages)
        for index in out_indices:
            if index not in range(num_stages + 1):
                raise ValueError(f'out_indices must be in 0..{num_stages} (stages, then '
                                 f'conv2); got {index}')
        if frozen_stages not in range(-1, num_stages + 1):
            raise ValueError(f'frozen_stages must be in -1..{num_stages}; got {frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        common = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(3, self.layout.stem_channels, 3, stride=2, padding=1,
                                **common)
        self.layers = []
        for s, blocks in enumerate(self.layout.stages, 1):
            stage = nn.Sequential(*[
                AdaptedInvertedResidual(b, with_cp=with_cp, **common) for b in blocks])
            self.add_module(f'layer{s}', stage)
            self.layers.append(f'layer{s}')
        self.out_channels_last_stage = self.layout.stages[-1][-1].out_channels
        self.conv2 = ConvModule(self.out_channels_last_stage, self.layout.last_channels, 1,
                                **common)
        self.layers.append('conv2')

    @property
    def out_channels(self) -> Tuple[int, ...]:
        """Channels of each returned output (for a neck's ``in_channels``)."""
        widths = [b[-1].out_channels for b in self.layout.stages] + [self.layout.last_channels]
        return tuple(widths[i] for i in self.out_indices)

    def stem_modules(self) -> List[nn.Module]:
        return [self.conv1]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
