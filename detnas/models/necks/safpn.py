"""SA-FPN: a feature pyramid whose levels are fused by attention over scales.

Wang & Dai, "Zero Cost Improvements for General Object Detection Network" (2020) replace
FPN's fixed top-down sum by a fusion of *all* pyramid levels whose mixing weights come from
global context (scale attention), and report fewer parameters than FPN. This module keeps
mmdet's :class:`~mmdet.models.necks.FPN` interface (same arguments, same outputs, same extra
levels) so that a config changes ``type='FPN'`` to ``type='SAFPN'`` and nothing else.

Per output level ``i`` (one per used backbone level)::

    lat_j   = lateral_conv_j(C_j)                              1x1, as in FPN
    a_i     = softmax_j( MLP( [GAP(lat_1), ..., GAP(lat_L)] ) )  scale attention
    fused_i = sum_j a_ij * resample(lat_j -> size of level i)  nearest up / max-pool down
    P_i     = fpn_conv(fused_i)                                3x3, shared over levels

``a_ij`` is a scalar per (output level, input level) in ``'level'`` mode or a vector over
channels in ``'channel'`` mode; it is non-negative and sums to one over ``j``. Sharing the
3x3 output conv over levels (the default) removes ``(L - 1)`` 3x3 convs, which pays many
times for the attention MLP, so the neck has fewer parameters than FPN with the same
channels and the same conv FLOPs (the attention adds a few thousand MACs). Extra levels
(``num_outs`` larger than the used backbone levels) are built exactly as in FPN.

Design choices that the paper does not pin down and that are ours: the context is the
concatenation of the per-level global average pools; the MLP has one hidden layer; the
last layer starts at zero, so training starts from a uniform mix of scales; downsampling
uses adaptive max pooling so odd sizes work.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmdet.registry import MODELS

ATTENTION_MODES = ('level', 'channel')
ATTENTION_INITS = ('uniform', 'top_down')
# initial logit of a finer input level under ``attention_init='top_down'``: its weight starts
# near zero (about 2 % of a coarser level's) but still receives gradient
FINER_LEVEL_LOGIT = -4.0
DOWNSAMPLE_MODES = ('max', 'avg')
EXTRA_CONV_SOURCES = ('on_input', 'on_lateral', 'on_output')


class ScaleAttention(BaseModule):
    """Mixing weights over pyramid levels from the global context of all levels.

    Args:
        num_levels: number of input levels ``L`` (also the number of fused outputs).
        channels: channels ``C`` of every input level.
        mode: ``'level'`` gives one weight per (output, input) level pair; ``'channel'`` gives
            one weight per (output, input, channel).
        hidden_channels: width of the MLP's hidden layer.
        init: starting weights, the same for every input: ``'uniform'`` (every level
            ``1 / L``) or ``'top_down'`` (output level ``i`` mixes itself and the coarser
            levels equally and the finer ones hardly at all, like FPN's top-down sum).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 num_levels: int,
                 channels: int,
                 mode: str = 'level',
                 hidden_channels: int = 16,
                 init: str = 'uniform',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if mode not in ATTENTION_MODES:
            raise ValueError(f'attention mode must be one of {ATTENTION_MODES}, got {mode!r}')
        if init not in ATTENTION_INITS:
            raise ValueError(f'attention init must be one of {ATTENTION_INITS}, got {init!r}')
        if num_levels < 1 or channels < 1 or hidden_channels < 1:
            raise ValueError('num_levels, channels and hidden_channels must be positive, got '
                             f'{num_levels}, {channels}, {hidden_channels}')
        self.num_levels = num_levels
        self.channels = channels
        self.mode = mode
        self.init = init
        self.weight_channels = channels if mode == 'channel' else 1
        self.squeeze = nn.Linear(num_levels * channels, hidden_channels)
        self.excite = nn.Linear(hidden_channels,
                                num_levels * num_levels * self.weight_channels)

    def init_weights(self) -> None:
        """Default init for the hidden layer; the last layer's weight is zero, so the
        starting weights are the softmax of its bias, set by ``init``."""
        super().init_weights()
        nn.init.zeros_(self.excite.weight)
        with torch.no_grad():
            self.excite.bias.copy_(self.initial_logits().flatten())

    def initial_logits(self) -> Tensor:
        """The (L_out, L_in, K) logits the attention starts from."""
        logits = torch.zeros(self.num_levels, self.num_levels, self.weight_channels)
        if self.init == 'top_down':
            for i in range(self.num_levels):
                logits[i, :i] = FINER_LEVEL_LOGIT
        return logits

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Computes the weights.

        Args:
            feats: ``L`` tensors of shape (B, C, H_j, W_j).

        Returns:
            Tensor of shape (B, L_out, L_in, K) with K = C (``'channel'``) or 1 (``'level'``);
            non-negative and summing to one over dim 2.
        """
        if len(feats) != self.num_levels:
            raise ValueError(f'expected {self.num_levels} levels, got {len(feats)}')
        context = torch.cat([f.mean(dim=(2, 3)) for f in feats], dim=1)
        logits = self.excite(F.relu(self.squeeze(context)))
        logits = logits.view(-1, self.num_levels, self.num_levels, self.weight_channels)
        return logits.softmax(dim=2)


@MODELS.register_module()
class SAFPN(BaseModule):
    """Scale-attention feature pyramid, a drop-in replacement for mmdet's ``FPN``.

    Args:
        in_channels: channels of each backbone level.
        out_channels: channels of every output level.
        num_outs: number of output levels.
        start_level: first backbone level used.
        end_level: last backbone level used (inclusive); -1 means the last one.
        add_extra_convs: extra levels by stride-2 3x3 convs: ``False`` (max pooling
            instead), ``True`` (same as ``'on_input'``), ``'on_input'``, ``'on_lateral'`` or
            ``'on_output'``, as in FPN.
        relu_before_extra_convs: apply ReLU before every extra conv but the first.
        no_norm_on_lateral: no normalization on the lateral 1x1 convs.
        conv_cfg: conv config of every ConvModule.
        norm_cfg: norm config of every ConvModule.
        act_cfg: activation config of every ConvModule.
        upsample_cfg: ``F.interpolate`` options used to enlarge coarser levels; a
            ``scale_factor`` key is ignored because every level is resized to the exact
            target size.
        attention: ``'level'`` (one weight per pair of levels) or ``'channel'`` (one per
            channel too).
        attention_hidden_channels: hidden width of the attention MLP; by default
            ``max(out_channels // 8, 4)``.
        attention_init: ``'uniform'`` (every output level starts as the mean of all levels)
            or ``'top_down'`` (it starts as the mean of itself and the coarser levels, FPN's
            top-down path up to a scale); see :class:`ScaleAttention`.
        downsample: ``'max'`` or ``'avg'``: adaptive pooling used to shrink finer levels.
        share_fpn_conv: one 3x3 output conv shared by the fused levels (fewer parameters
            than FPN); ``False`` gives one per level (FPN's count plus the attention MLP).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: List[int],
                 out_channels: int,
                 num_outs: int,
                 start_level: int = 0,
                 end_level: int = -1,
                 add_extra_convs: Union[bool, str] = False,
                 relu_before_extra_convs: bool = False,
                 no_norm_on_lateral: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None,
                 upsample_cfg: Optional[dict] = None,
                 attention: str = 'level',
                 attention_hidden_channels: Optional[int] = None,
                 attention_init: str = 'uniform',
                 downsample: str = 'max',
                 share_fpn_conv: bool = True,
                 init_cfg: Union[dict, List[dict]] = dict(
                     type='Xavier', layer='Conv2d', distribution='uniform')):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, (list, tuple)) or not in_channels:
            raise TypeError('in_channels must be a non-empty list of ints (channels of each '
                            f'backbone level), got {in_channels!r}')
        if downsample not in DOWNSAMPLE_MODES:
            raise ValueError(f'downsample must be one of {DOWNSAMPLE_MODES}, got '
                             f'{downsample!r}')
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.no_norm_on_lateral = no_norm_on_lateral
        self.downsample = downsample
        self.share_fpn_conv = share_fpn_conv
        upsample_cfg = dict(mode='nearest') if upsample_cfg is None else dict(upsample_cfg)
        upsample_cfg.pop('scale_factor', None)
        self.upsample_cfg = upsample_cfg

        self.start_level = start_level
        self.end_level = end_level
        self.backbone_end_level = self._check_levels(start_level, end_level, num_outs)
        self.add_extra_convs = self._check_extra(add_extra_convs)
        num_fused = self.backbone_end_level - start_level

        self.lateral_convs = nn.ModuleList(
            ConvModule(
                self.in_channels[i],
                out_channels,
                1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg if not no_norm_on_lateral else None,
                act_cfg=act_cfg,
                inplace=False) for i in range(start_level, self.backbone_end_level))

        def out_conv(in_ch: int, stride: int = 1) -> ConvModule:
            return ConvModule(
                in_ch,
                out_channels,
                3,
                stride=stride,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                inplace=False)

        num_out_convs = 1 if share_fpn_conv else num_fused
        self.fpn_convs = nn.ModuleList(out_conv(out_channels) for _ in range(num_out_convs))

        self.scale_attention = None
        if num_fused > 1:
            hidden = attention_hidden_channels or max(out_channels // 8, 4)
            self.scale_attention = ScaleAttention(num_fused, out_channels, attention, hidden,
                                                  init=attention_init)

        self.extra_convs = nn.ModuleList()
        extra_levels = num_outs - num_fused
        if self.add_extra_convs and extra_levels >= 1:
            for i in range(extra_levels):
                if i == 0 and self.add_extra_convs == 'on_input':
                    in_ch = self.in_channels[self.backbone_end_level - 1]
                else:
                    in_ch = out_channels
                self.extra_convs.append(out_conv(in_ch, stride=2))

    def _check_levels(self, start_level: int, end_level: int, num_outs: int) -> int:
        """Validates the level arguments like FPN does; returns the backbone end level."""
        if not 0 <= start_level < self.num_ins:
            raise ValueError(f'start_level must be in [0, {self.num_ins}), got {start_level}')
        if end_level == -1 or end_level == self.num_ins - 1:
            if num_outs < self.num_ins - start_level:
                raise ValueError(f'num_outs ({num_outs}) must be at least the number of used '
                                 f'backbone levels ({self.num_ins - start_level})')
            return self.num_ins
        if not start_level <= end_level < self.num_ins:
            raise ValueError(f'end_level must be -1 or in [start_level, {self.num_ins}), got '
                             f'{end_level}')
        if num_outs != end_level - start_level + 1:
            raise ValueError(f'with end_level={end_level}, num_outs must equal '
                             f'end_level - start_level + 1 = {end_level - start_level + 1}, '
                             f'got {num_outs}')
        return end_level + 1

    @staticmethod
    def _check_extra(add_extra_convs: Union[bool, str]) -> Union[bool, str]:
        if isinstance(add_extra_convs, str):
            if add_extra_convs not in EXTRA_CONV_SOURCES:
                raise ValueError(f'add_extra_convs must be a bool or one of '
                                 f'{EXTRA_CONV_SOURCES}, got {add_extra_convs!r}')
            return add_extra_convs
        if not isinstance(add_extra_convs, bool):
            raise TypeError(f'add_extra_convs must be a bool or a str, got '
                            f'{type(add_extra_convs).__name__}')
        return 'on_input' if add_extra_convs else False

    def _resample(self, x: Tensor, size: Tuple[int, int]) -> Tensor:
        """Resizes ``x`` to ``size``: interpolation up, adaptive pooling down."""
        h, w = x.shape[-2:]
        if (h, w) == tuple(size):
            return x
        if h <= size[0] and w <= size[1]:
            return F.interpolate(x, size=size, **self.upsample_cfg)
        if h >= size[0] and w >= size[1]:
            ratio = h // size[0]
            if h == ratio * size[0] and w == ratio * size[1]:  # the usual case: fast kernels
                pool = F.max_pool2d if self.downsample == 'max' else F.avg_pool2d
                return pool(x, ratio, ratio)
            pool = F.adaptive_max_pool2d if self.downsample == 'max' else F.adaptive_avg_pool2d
            return pool(x, size)
        raise ValueError(f'cannot resample a {h}x{w} level to {size[0]}x{size[1]}: pyramid '
                         'levels must shrink in both dimensions')

    def fuse(self, laterals: List[Tensor]) -> List[Tensor]:
        """Mixes all lateral features into each level with the scale-attention weights.

        Args:
            laterals: ``L`` tensors of shape (B, C, H_j, W_j), finest first.

        Returns:
            ``L`` fused tensors, the i-th at the size of ``laterals[i]``.
        """
        if self.scale_attention is None:
            return list(laterals)
        weights = self.scale_attention(laterals)  # (B, L_out, L_in, K)
        batch = weights.shape[0]
        fused = []
        for i, target in enumerate(laterals):
            size = tuple(target.shape[-2:])
            out = 0
            for j, source in enumerate(laterals):
                w = weights[:, i, j].view(batch, -1, 1, 1)
                out = out + w * self._resample(source, size)
            fused.append(out)
        return fused

    def forward(self, inputs: Tuple[Tensor]) -> tuple:
        """Forward function.

        Args:
            inputs: backbone features, one per entry of ``in_channels``.

        Returns:
            tuple of ``num_outs`` tensors with ``out_channels`` channels, finest first.
        """
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'SAFPN got {len(inputs)} inputs but was built for '
                             f'{len(self.in_channels)} (in_channels={self.in_channels})')
        laterals = [
            conv(inputs[i + self.start_level]) for i, conv in enumerate(self.lateral_convs)
        ]
        fused = self.fuse(laterals)
        outs = [
            self.fpn_convs[0 if self.share_fpn_conv else i](f) for i, f in enumerate(fused)
        ]
        num_fused = len(outs)
        if self.num_outs > num_fused:
            if not self.add_extra_convs:
                for _ in range(self.num_outs - num_fused):
                    outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                if self.add_extra_convs == 'on_input':
                    source = inputs[self.backbone_end_level - 1]
                elif self.add_extra_convs == 'on_lateral':
                    source = laterals[-1]
                else:
                    source = outs[-1]
                outs.append(self.extra_convs[0](source))
                for conv in self.extra_convs[1:]:
                    prev = F.relu(outs[-1]) if self.relu_before_extra_convs else outs[-1]
                    outs.append(conv(prev))
        return tuple(outs)
