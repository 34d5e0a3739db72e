"""GFPN: GiraffeDet's generalised FPN, built from a :mod:`gfpn_graph` description.

Every fusion node resamples its inputs to its own level (3x3 stride-2 max-pool per level
down, nearest-neighbour up to the exact target size), concatenates them, and applies a
1x1 conv, the activation and a 3x3 Conv-BN (official layout: no norm after the 1x1 conv,
no activation after the 3x3). Output nodes do the same on the last layer's node of their
level, at ``out_channels`` width.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

from .gfpn_graph import GFPNGraph, GFPNGraphSpec, build_gfpn_graph


class GFPNFusionNode(nn.Module):
    """Concat -> 1x1 conv -> act -> 3x3 conv -> norm.

    Args:
        in_channels: channels of the concatenated inputs.
        out_channels: output channels.
        conv_cfg: conv layer config.
        norm_cfg: norm after the 3x3 conv.
        act_cfg: activation between the two convs.
    """

    def __init__(self, in_channels: int, out_channels: int, conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = dict(type='SiLU')):
        super().__init__()
        self.reduce = ConvModule(in_channels, out_channels, 1, bias=False, conv_cfg=conv_cfg,
                                 norm_cfg=None, act_cfg=act_cfg)
        self.fuse = ConvModule(out_channels, out_channels, 3, padding=1, conv_cfg=conv_cfg,
                               norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return self.fuse(self.reduce(torch.cat(inputs, dim=1)))


def resample_to(x: Tensor, src_level: int, dst_level: int, size: Tuple[int, int]) -> Tensor:
    """Brings a feature map from ``src_level`` to ``dst_level`` of spatial ``size``.

    Downsampling applies a 3x3 stride-2 max-pool (padding 1) once per level; upsampling is
    nearest-neighbour to ``size``. If odd sizes leave the result off by a pixel it is
    resized (nearest) to ``size``, so any input size works.
    """
    for _ in range(src_level, dst_level):
        x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode='nearest')
    return x


@MODELS.register_module()
class GFPN(BaseModule):
    """Generalised FPN of GiraffeDet (Jiang et al., ICLR 2022).

    Args:
        in_channels: channels of each backbone level, finest first.
        out_channels: channels of every output level (official: 256).
        num_outs: number of output levels; when larger than ``len(in_channels)`` the extra
            coarser inputs are made by 3x3 stride-2 max-pooling the last input (official).
            Defaults to ``len(in_channels)``.
        depth_multiplier: family depth; the graph gets ``2 * d - 1`` layers (D7, D11, ...).
            Ignored when ``num_layers`` is given.
        num_layers: number of fusion layers, overriding ``depth_multiplier``.
        width_multiplier: inner (non-output) node width is ``int(out_channels * w)``
            (official 0.7 -> 179 channels). Ignored when ``inner_channels`` is given.
        inner_channels: inner node width, one int or one per level.
        skip_type: ``'log2n'`` (official), ``'dense'`` or ``'chain'``.
        queen_fusion: diagonal inputs from the previous layer (official: on).
        conv_cfg: conv config of the fusion nodes.
        norm_cfg: norm after each node's 3x3 conv.
        act_cfg: activation between each node's 1x1 and 3x3 conv.
        init_cfg: initialisation config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 out_channels: int = 256,
                 num_outs: Optional[int] = None,
                 depth_multiplier: int = 7,
                 num_layers: Optional[int] = None,
                 width_multiplier: float = 0.7,
                 inner_channels: Optional[Union[int, Sequence[int]]] = None,
                 skip_type: str = 'log2n',
                 queen_fusion: bool = True,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN', requires_grad=True),
                 act_cfg: Optional[dict] = dict(type='SiLU'),
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Kaiming', layer='Conv2d', a=0, distribution='uniform',
                     mode='fan_in', nonlinearity='leaky_relu')):
        super().__init__(init_cfg=init_cfg)
        if (not isinstance(in_channels, (list, tuple)) or not in_channels
                or not all(isinstance(c, int) and c > 0 for c in in_channels)):
            raise ValueError(f'in_channels must be a non-empty list of positive ints (one '
                             f'per backbone level), got {in_channels!r}')
        num_ins = len(in_channels)
        num_outs = num_ins if num_outs is None else num_outs
        if not isinstance(num_outs, int) or num_outs < num_ins:
            raise ValueError(
                f'num_outs={num_outs!r} cannot serve {num_ins} input levels: GFPN outputs '
                f'every input level, so num_outs must be >= len(in_channels) (extra levels '
                f'are max-pooled from the last input)')
        if num_outs < 2:
            raise ValueError(f'GFPN needs at least 2 levels to fuse across, got '
                             f'num_outs={num_outs}; give in_channels for 2+ levels or raise '
                             f'num_outs')
        if not isinstance(out_channels, int) or out_channels < 1:
            raise ValueError(f'out_channels must be a positive int, got {out_channels!r}')
        if num_layers is not None:
            spec = GFPNGraphSpec(num_levels=num_outs, num_layers=num_layers,
                                 skip_type=skip_type, queen_fusion=queen_fusion)
        else:
            spec = GFPNGraphSpec.from_depth_multiplier(
                depth_multiplier, num_levels=num_outs, skip_type=skip_type,
                queen_fusion=queen_fusion)
        self.graph: GFPNGraph = build_gfpn_graph(spec)
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_ins = num_ins
        self.num_outs = num_outs
        self.inner_channels = self._inner_channels(inner_channels, width_multiplier,
                                                   out_channels, num_outs)

        level_channels = self.in_channels + [self.in_channels[-1]] * (num_outs - num_ins)
        node_channels = {n.index: level_channels[n.level] for n in self.graph.input_nodes}
        self.nodes = nn.ModuleList()
        self._node_inputs: List[List[Tuple[int, int]]] = []
        for node in self.graph.fusion_nodes:
            edges = self.graph.in_edges(node)
            srcs = [self.graph.nodes[e.src] for e in edges]
            c_in = sum(node_channels[s.index] for s in srcs)
            c_out = (out_channels if node.layer == self.graph.num_layers
                     else self.inner_channels[node.level])
            self.nodes.append(GFPNFusionNode(c_in, c_out, conv_cfg, norm_cfg, act_cfg))
            self._node_inputs.append([(s.index, s.level) for s in srcs])
            node_channels[node.index] = c_out
        self._out_indices = [n.index for n in self.graph.output_nodes]

    @staticmethod
    def _inner_channels(inner_channels, width_multiplier, out_channels, num_levels):
        if inner_channels is None:
            if not width_multiplier > 0:
                raise ValueError(f'width_multiplier must be > 0, got {width_multiplier!r}')
            return [max(1, int(out_channels * width_multiplier))] * num_levels
        if isinstance(inner_channels, int):
            inner_channels = [inner_channels] * num_levels
        inner_channels = list(inner_channels)
        if (len(inner_channels) != num_levels
                or not all(isinstance(c, int) and c > 0 for c in inner_channels)):
            raise ValueError(f'inner_channels must be a positive int or {num_levels} positive '
                             f'ints (one per level), got {inner_channels!r}')
        return inner_channels

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Fuses backbone features (finest first) into ``num_outs`` maps of
        ``out_channels``, at the input resolutions."""
        if len(inputs) != self.num_ins:
            raise ValueError(f'GFPN was built for {self.num_ins} input levels (in_channels='
                             f'{self.in_channels}) but got {len(inputs)} feature maps; set '
                             f'in_channels to match the backbone outputs')
        got = [int(x.shape[1]) for x in inputs]
        if got != self.in_channels:
            raise ValueError(f'GFPN in_channels={self.in_channels} but the inputs have '
                             f'{got} channels; set in_channels to match the backbone outputs')
        feats = list(inputs)
        for _ in range(self.num_outs - self.num_ins):
            feats.append(F.max_pool2d(feats[-1], kernel_size=3, stride=2, padding=1))
        sizes = [tuple(f.shape[-2:]) for f in feats]
        for node, module, srcs in zip(self.graph.fusion_nodes, self.nodes,
                                      self._node_inputs):
            xs = [resample_to(feats[i], level, node.level, sizes[node.level])
                  for i, level in srcs]
            feats.append(module(xs))
        return tuple(feats[i] for i in self._out_indices)
