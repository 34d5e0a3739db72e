"""The ResNet family: seed mmdet ``ResNet`` (``style='pytorch'``) or ``AdaptedResNet``,
supernet :class:`.ElasticResNet`, export target ``AdaptedResNet``.

Latency signatures: ``('resnet_stem', in, out, H, W)`` (7x7 conv, BN, ReLU, max-pool),
``('res_block', kind, in, out, stride, kernel, dilation, groups, H, W)`` per residual block
and ``('search_op', LAYER_JSON, in, out, stride, H, W)`` per registered-op layer.
"""
import copy
import json
from typing import Set

import torch
from torch import nn

from detnas.models.backbones.adapted_resnet import (EXPANSION, RES_BLOCK, RESNET_ARCH,
                                                    AdaptedResBlock, ResBlockSetting,
                                                    build_layer)
from detnas.utils.errors import DetnasInputError
from ..base import SearchFamily, out_spatial, register_family
from .converters import FAMILY
from .supernet import ElasticResNet

# mmdet ResNet arguments a seed must leave at these values (the supernet builds exactly this)
_MMDET_FIXED = dict(num_stages=4, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                    style='pytorch', deep_stem=False, avg_down=False, base_channels=64,
                    dcn=None, plugins=None, stem_channels=None, in_channels=3, conv_cfg=None)


def _layer_signature(kind, layer, c_in, c_out, stride, h, w):
    if layer['op'] == RES_BLOCK:
        return ('res_block', kind, c_in, c_out, stride, layer['kernel'], layer['dilation'],
                layer['groups'], h, w)
    return ('search_op', json.dumps(layer, sort_keys=True), c_in, c_out, stride, h, w)


@register_family
class ResNetFamily(SearchFamily):
    """See the module docstring."""
    name = FAMILY
    seed_types = ('ResNet', 'AdaptedResNet')
    supernet_class = ElasticResNet
    seed_example = 'detnas:///path/to/resnet50.pth'

    @classmethod
    def seed_arguments(cls, backbone: dict) -> dict:
        if backbone['type'] == 'ResNet':
            depth = backbone.get('depth')
            if depth not in RESNET_ARCH:
                raise DetnasInputError(f'model.backbone.depth is {depth!r}; the ResNet '
                                       f'supernet supports {sorted(RESNET_ARCH)}')
            for key, want in _MMDET_FIXED.items():
                got = backbone.get(key, want)
                if (tuple(got) if isinstance(got, (list, tuple)) else got) != want and not (
                        key == 'stem_channels' and got == 64):
                    raise DetnasInputError(
                        f'model.backbone.{key} is {got!r}; the ResNet supernet adapts a '
                        f'plain mmdet ResNet ({key}={want!r}); use that value or give the '
                        'seed as an AdaptedResNet')
            return dict(seed_depth=depth)
        stages = backbone.get('stages')
        layers = [l for s in (stages or []) for l in s['layers']]
        if any(l.get('op', RES_BLOCK) != RES_BLOCK for l in layers):
            raise DetnasInputError('model.backbone.stages: an AdaptedResNet seed must be '
                                   f'made of {RES_BLOCK!r} layers only')
        out = dict(seed_depth=backbone.get('depth', 50),
                   stem_channels=backbone.get('stem_channels', 64))
        if stages is not None:
            out.update(seed_stages=copy.deepcopy(stages),
                       seed_block=backbone.get('block') or RESNET_ARCH[out['seed_depth']][0])
        return out

    def fixed_backbone_config(self, arch):
        arch = self.space.validate(arch)
        return dict(type='AdaptedResNet', depth=self.args['seed_depth'],
                    block=self.space.block, stem_channels=self.args['stem_channels'],
                    stages=[dict(width=stage['width'], stride=st.stride,
                                 layers=copy.deepcopy(stage['layers']))
                            for st, stage in zip(self.space.stages, arch['stages'])],
                    out_indices=tuple(self.args['out_indices']),
                    **self._kept(('frozen_stages', 'norm_cfg', 'norm_eval')))

    def uniform_backbone_config(self, width=1.0, depth=1.0, divisor=8):
        step = divisor * EXPANSION[self.space.block]  # mid widths: multiples of divisor
        stages = [dict(width=max(step, int(round(s['width'] * width / step)) * step),
                       stride=st.stride,
                       layers=(list(s['layers']) + [s['layers'][-1]] * len(s['layers']))[
                           :max(1, int(round(len(s['layers']) * depth)))])
                  for st, s in zip(self.space.stages, self.space.seed)]
        return dict(type='AdaptedResNet', depth=self.args['seed_depth'],
                    block=self.space.block, stem_channels=self.args['stem_channels'],
                    stages=stages, out_indices=tuple(self.args['out_indices']),
                    **self._kept(('frozen_stages', 'norm_cfg', 'norm_eval')))

    def output_widths(self, arch):
        stages = self.space.validate(arch)['stages']
        return [stages[i]['width'] for i in self.args['out_indices']]

    def layer_signatures(self, arch, image_size):
        arch = self.space.validate(arch)
        c = self.args['stem_channels']
        h, w = image_size
        sigs = [('resnet_stem', 3, c, h, w)]
        h, w = out_spatial(h, 4), out_spatial(w, 4)
        for st, stage in zip(self.space.stages, arch['stages']):
            for j, layer in enumerate(stage['layers']):
                stride = st.stride if j == 0 else 1
                sigs.append(_layer_signature(self.space.block, layer, c, stage['width'],
                                             stride, h, w))
                h, w = out_spatial(h, stride), out_spatial(w, stride)
                c = stage['width']
        return sigs

    def space_signatures(self, image_size):
        stem = self.args['stem_channels']
        h, w = image_size
        sigs: Set = {('resnet_stem', 3, stem, h, w)}
        h, w = out_spatial(h, 4), out_spatial(w, 4)
        in_widths = [stem]
        for st in self.space.stages:
            h2, w2 = out_spatial(h, st.stride), out_spatial(w, st.stride)
            for layer in st.ops:
                for c_out in st.widths:
                    for c_in in in_widths:
                        sigs.add(_layer_signature(self.space.block, layer, c_in, c_out,
                                                  st.stride, h, w))
                    if st.max_depth > 1:
                        sigs.add(_layer_signature(self.space.block, layer, c_out, c_out, 1,
                                                  h2, w2))
            h, w = h2, w2
            in_widths = list(st.widths)
        return sorted(sigs, key=repr)

    def latency_layer(self, signature):
        norm_cfg, kind = self.args['norm_cfg'], self.space.block
        if signature[0] == 'resnet_stem':
            _, c_in, c_out, h, w = signature
            module = nn.Sequential(nn.Conv2d(c_in, c_out, 7, 2, 3, bias=False),
                                   nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                                   nn.MaxPool2d(3, 2, 1))
        elif signature[0] == 'res_block':
            _, block, c_in, c_out, s, k, d, g, h, w = signature
            module = AdaptedResBlock(ResBlockSetting(block, c_in, c_out, s, k, d, g), norm_cfg)
        elif signature[0] == 'search_op':
            _, layer, c_in, c_out, s, h, w = signature
            module = build_layer(kind, json.loads(layer), c_in, c_out, s, norm_cfg,
                                 'search op')
        else:
            raise ValueError(f'unknown ResNet latency signature kind {signature[0]!r}')
        return module.eval(), torch.zeros(1, c_in, h, w)
