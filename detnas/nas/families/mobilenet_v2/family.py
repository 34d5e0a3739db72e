"""The MobileNetV2 family: seed ``MobileNetV2`` / ``AdaptedMobileNetV2``, supernet
:class:`.ElasticMobileNetV2`, export target ``AdaptedMobileNetV2``.

Latency signatures: ``('mbconv', in, out, mid, kernel, stride, dilation, expand, H, W)``
per inverted residual and ``('conv', in, out, kernel, stride, H, W)`` for the stem and the
last 1x1 conv.
"""
import copy
from typing import Set

import torch
from mmcv.cnn import ConvModule

from detnas.models.backbones.adapted_mobilenet_v2 import (MOBILENET_V2_ARCH,
                                                         AdaptedInvertedResidual,
                                                         MBBlockSetting,
                                                         resolve_mobilenet_v2_arch)
from ..base import SearchFamily, out_spatial, register_family
from .converters import FAMILY
from .space import effective_layers
from .supernet import ElasticMobileNetV2


def _conv_signature(c_in: int, c_out: int, kernel: int, stride: int, h: int, w: int):
    return ('conv', c_in, c_out, kernel, stride, h, w)


def _block_signature(c_in: int, c_out: int, expand: float, kernel: int, stride: int,
                     dilation: int, h: int, w: int):
    mid = int(round(c_in * expand))
    return ('mbconv', c_in, c_out, mid, kernel, stride, dilation, expand != 1, h, w)


def _with_blocks(row, n: int) -> list:
    """An arch-table row with ``n`` blocks (per-block expansions / kernels cut or repeated)."""
    row = list(row)
    for i in (0, 4):  # expand_ratio and kernel_size may be per-block lists
        if i < len(row) and isinstance(row[i], (list, tuple)):
            row[i] = (list(row[i]) + [row[i][-1]] * n)[:n]
    row[2] = n
    return row


@register_family
class MobileNetV2Family(SearchFamily):
    """See the module docstring."""
    name = FAMILY
    seed_types = ('MobileNetV2', 'AdaptedMobileNetV2')
    supernet_class = ElasticMobileNetV2
    seed_example = 'detnas://mobilenet_v2_imagenet'
    kept_keys = SearchFamily.kept_keys + ('act_cfg', 'last_channels')

    @classmethod
    def seed_arguments(cls, backbone: dict) -> dict:
        return dict(seed_arch_setting=copy.deepcopy(backbone.get('arch_setting')
                                                    or MOBILENET_V2_ARCH),
                    seed_widen_factor=backbone.get('widen_factor', 1.0))

    @property
    def stem_channels(self) -> int:
        """Channels of the seed's stem conv (kept by every sub-net)."""
        return resolve_mobilenet_v2_arch(self.args['seed_arch_setting'],
                                         widen_factor=self.args['seed_widen_factor']
                                         ).stem_channels

    def fixed_backbone_config(self, arch):
        arch = self.space.validate(arch)
        rows = []
        for st_space, stage in zip(self.space.stages, arch['stages']):
            layers = [layer for _, layer in effective_layers(stage)]
            rows.append([[l['expand_ratio'] for l in layers], stage['width'], len(layers),
                         st_space.stride, [l['kernel'] for l in layers], st_space.dilation])
        return dict(type='AdaptedMobileNetV2', arch_setting=rows,
                    stem_channels=self.stem_channels, widen_factor=1.0,
                    out_indices=tuple(self.args['out_indices']),
                    **self._kept(('last_channels', 'frozen_stages', 'norm_cfg', 'act_cfg',
                                  'norm_eval')))

    def uniform_backbone_config(self, width=1.0, depth=1.0, divisor=8):
        rows = [_with_blocks(row, max(1, int(round(row[2] * depth))))
                for row in self.args['seed_arch_setting']]
        return dict(type='AdaptedMobileNetV2', arch_setting=rows,
                    widen_factor=self.args['seed_widen_factor'] * width,
                    channel_divisor=divisor,
                    out_indices=tuple(self.args['out_indices']),
                    **self._kept(('last_channels', 'frozen_stages', 'norm_cfg', 'act_cfg',
                                  'norm_eval')))

    def output_widths(self, arch):
        widths = [s['width'] for s in self.space.validate(arch)['stages']]
        widths.append(self.args['last_channels'])
        return [widths[i] for i in self.args['out_indices']]

    def layer_signatures(self, arch, image_size):
        fixed = self.fixed_backbone_config(arch)
        layout = resolve_mobilenet_v2_arch(fixed['arch_setting'], fixed['stem_channels'],
                                           fixed['last_channels'])
        h, w = image_size
        sigs = [_conv_signature(3, layout.stem_channels, 3, 2, h, w)]
        h, w = out_spatial(h, 2), out_spatial(w, 2)
        c = layout.stem_channels
        for blocks in layout.stages:
            for b in blocks:
                sigs.append(('mbconv', b.in_channels, b.out_channels, b.mid_channels,
                             b.kernel_size, b.stride, b.dilation, b.with_expand_conv, h, w))
                h, w = out_spatial(h, b.stride), out_spatial(w, b.stride)
                c = b.out_channels
        sigs.append(_conv_signature(c, layout.last_channels, 1, 1, h, w))
        return sigs

    def space_signatures(self, image_size):
        stem, last = self.stem_channels, self.args['last_channels']
        h, w = image_size
        sigs: Set = {_conv_signature(3, stem, 3, 2, h, w)}
        h, w = out_spatial(h, 2), out_spatial(w, 2)
        in_widths = [stem]
        for st in self.space.stages:
            h2, w2 = out_spatial(h, st.stride), out_spatial(w, st.stride)
            for c_out in st.widths:
                for k in st.kernels:
                    for e in st.expand_ratios:
                        for c_in in in_widths:
                            sigs.add(_block_signature(c_in, c_out, e, k, st.stride,
                                                      st.dilation, h, w))
                        if st.max_depth > 1:
                            sigs.add(_block_signature(c_out, c_out, e, k, 1, st.dilation,
                                                      h2, w2))
            h, w = h2, w2
            in_widths = list(st.widths)
        for c_in in in_widths:
            sigs.add(_conv_signature(c_in, last, 1, 1, h, w))
        return sorted(sigs, key=repr)

    def latency_layer(self, signature):
        norm_cfg, act_cfg = self.args['norm_cfg'], self.args['act_cfg']
        kind = signature[0]
        if kind == 'conv':
            _, c_in, c_out, k, s, h, w = signature
            module = ConvModule(c_in, c_out, k, stride=s, padding=k // 2, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        elif kind == 'mbconv':
            _, c_in, c_out, mid, k, s, d, expand, h, w = signature
            module = AdaptedInvertedResidual(MBBlockSetting(c_in, c_out, mid, k, s, d, expand),
                                             norm_cfg=norm_cfg, act_cfg=act_cfg)
        else:
            raise ValueError(f'unknown MobileNetV2 latency signature kind {kind!r}')
        return module.eval(), torch.zeros(1, c_in, h, w)
