"""The ResNet family: seed mmdet ``ResNet`` (``style='pytorch'``) or ``AdaptedResNet``,
supernet :class:`~detnas.models.backbones.ElasticResNet`, export target ``AdaptedResNet``.

Latency signatures: ``('resnet_stem', in, out, H, W)`` (7x7 conv, BN, ReLU, max-pool),
``('res_block', kind, in, out, stride, kernel, dilation, groups, H, W)`` per residual block
and ``('search_op', LAYER_JSON, in, out, stride, H, W)`` per registered-op layer.
"""
import copy
import json
from typing import Dict, Set

import torch
from torch import Tensor, nn

from detnas.models.backbones.adapted_resnet import (RES_BLOCK, RESNET_ARCH, AdaptedResBlock,
                                                    ResBlockSetting, build_layer)
from detnas.models.backbones.elastic_resnet import plugin_key
from detnas.models.layers.elastic import block_diagonal
from detnas.utils.errors import DetnasInputError
from ..resnet_space import ResNetSearchSpace, resnet_search_space
from ..space import Arch
from .base import SearchFamily, check_batch_norm, out_spatial, register_family
from .mobilenet_v2 import seed_checkpoint, slice_norm

# mmdet ResNet arguments a seed must leave at these values (the supernet builds exactly this)
_MMDET_FIXED = dict(num_stages=4, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                    style='pytorch', deep_stem=False, avg_down=False, base_channels=64,
                    dcn=None, plugins=None, stem_channels=None, in_channels=3, conv_cfg=None)
_KEPT = ('out_indices', 'frozen_stages', 'norm_cfg', 'norm_eval')
SEED_EXAMPLE = 'detnas:///path/to/resnet50.pth'


def _slice_conv(w: Tensor, n_out: int, n_in: int, kernel: int = None, groups: int = 1
                ) -> Tensor:
    """``w[:n_out, :n_in]``, centre-cropped to ``kernel``, block diagonal of ``groups``."""
    w = w[:n_out, :n_in]
    if kernel is not None and kernel != w.shape[-1]:
        off = (w.shape[-1] - kernel) // 2
        w = w[:, :, off:off + kernel, off:off + kernel]
    return block_diagonal(w, groups).clone()


class ResNetFamily(SearchFamily):
    """See the module docstring."""
    name = 'resnet'
    seed_types = ('ResNet', 'AdaptedResNet')
    supernet_type = 'ElasticResNet'

    def supernet_backbone_config(self, backbone: dict, search_space: dict) -> dict:
        checkpoint = seed_checkpoint(backbone, SEED_EXAMPLE)
        check_batch_norm(backbone)
        out = dict(type=self.supernet_type, search_space=copy.deepcopy(search_space),
                   seed=checkpoint)
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
            out['seed_depth'] = depth
        else:
            stages = backbone.get('stages')
            layers = [l for s in (stages or []) for l in s['layers']]
            if any(l.get('op', RES_BLOCK) != RES_BLOCK for l in layers):
                raise DetnasInputError('model.backbone.stages: an AdaptedResNet seed must be '
                                       f'made of {RES_BLOCK!r} layers only')
            out['seed_depth'] = backbone.get('depth', 50)
            if stages is not None:
                out['seed_stages'] = copy.deepcopy(stages)
                out['seed_block'] = backbone.get('block') or RESNET_ARCH[out['seed_depth']][0]
            out['stem_channels'] = backbone.get('stem_channels', 64)
        for key in _KEPT:
            if key in backbone:
                out[key] = copy.deepcopy(backbone[key])
        return out

    def space(self, backbone_cfg: dict) -> ResNetSearchSpace:
        depth = backbone_cfg.get('seed_depth', 50)
        return ResNetSearchSpace.from_config(
            backbone_cfg.get('search_space') or resnet_search_space(depth), seed_depth=depth,
            seed_stages=backbone_cfg.get('seed_stages'),
            seed_block=backbone_cfg.get('seed_block'),
            stem_channels=backbone_cfg.get('stem_channels', 64))

    def fixed_backbone_config(self, backbone_cfg: dict, arch: Arch) -> dict:
        space = self.space(backbone_cfg)
        arch = space.validate(arch)
        out = dict(type='AdaptedResNet', depth=backbone_cfg.get('seed_depth', 50),
                   block=space.block, stem_channels=backbone_cfg.get('stem_channels', 64),
                   stages=[dict(width=stage['width'], stride=st.stride,
                                layers=copy.deepcopy(stage['layers']))
                           for st, stage in zip(space.stages, arch['stages'])],
                   out_indices=tuple(backbone_cfg.get('out_indices', (0, 1, 2, 3))))
        for key in ('frozen_stages', 'norm_cfg', 'norm_eval'):
            if key in backbone_cfg:
                out[key] = copy.deepcopy(backbone_cfg[key])
        return out

    def slice_backbone_state(self, sd, backbone_cfg, arch):
        """First channels, centre kernel crops, block diagonals of grouped convs; a
        registered-op layer takes its (input, output) width's own module."""
        space = self.space(backbone_cfg)
        arch = space.validate(arch)
        genes = space.encode(arch)
        out: Dict[str, Tensor] = {'conv1.weight': sd['conv1.weight'].clone()}
        in_c = sd['conv1.weight'].shape[0]
        slice_norm(sd, 'bn1', 'bn1', out, in_c)
        pos = 0
        for s, (st, stage) in enumerate(zip(space.stages, arch['stages']), 1):
            width = stage['width']
            for j, layer in enumerate(stage['layers']):
                name = f'layer{s}.{j}'
                if layer['op'] != RES_BLOCK:
                    prefix = f'{name}.choices.{plugin_key(genes[pos + 2 + j], in_c, width)}.'
                    out.update({f'{name}.{k[len(prefix):]}': v.clone()
                                for k, v in sd.items() if k.startswith(prefix)})
                else:
                    setting = ResBlockSetting(space.block, in_c, width,
                                              st.stride if j == 0 else 1, layer['kernel'],
                                              layer['dilation'], layer['groups'])
                    self._slice_block(sd, name, setting, out)
                in_c = width
            pos += 2 + st.max_depth
        return out

    @staticmethod
    def _slice_block(sd, name: str, b: ResBlockSetting, out: Dict[str, Tensor]) -> None:
        mid = b.mid_channels
        if b.kind == 'bottleneck':
            shapes = [(mid, b.in_channels, None, 1), (mid, mid, b.kernel_size, b.groups),
                      (b.out_channels, mid, None, 1)]
        else:
            shapes = [(mid, b.in_channels, b.kernel_size, b.groups),
                      (b.out_channels, mid, b.kernel_size, b.groups)]
        for i, (n_out, n_in, k, g) in enumerate(shapes, 1):
            out[f'{name}.conv{i}.weight'] = _slice_conv(sd[f'{name}.conv{i}.weight'], n_out,
                                                        n_in, k, g)
            slice_norm(sd, f'{name}.bn{i}', f'{name}.bn{i}', out, n_out)
        if b.with_downsample:
            out[f'{name}.downsample.0.weight'] = _slice_conv(
                sd[f'{name}.downsample.0.weight'], b.out_channels, b.in_channels)
            slice_norm(sd, f'{name}.downsample.1', f'{name}.downsample.1', out,
                       b.out_channels)

    def output_widths(self, backbone_cfg, arch):
        stages = self.space(backbone_cfg).validate(arch)['stages']
        return [stages[i]['width'] for i in backbone_cfg.get('out_indices', (0, 1, 2, 3))]

    @staticmethod
    def _layer_signature(kind, layer, c_in, c_out, stride, h, w):
        if layer['op'] == RES_BLOCK:
            return ('res_block', kind, c_in, c_out, stride, layer['kernel'],
                    layer['dilation'], layer['groups'], h, w)
        return ('search_op', json.dumps(layer, sort_keys=True), c_in, c_out, stride, h, w)

    def layer_signatures(self, backbone_cfg, arch, image_size):
        space = self.space(backbone_cfg)
        arch = space.validate(arch)
        c = backbone_cfg.get('stem_channels', 64)
        h, w = image_size
        sigs = [('resnet_stem', 3, c, h, w)]
        h, w = out_spatial(h, 4), out_spatial(w, 4)
        for st, stage in zip(space.stages, arch['stages']):
            for j, layer in enumerate(stage['layers']):
                stride = st.stride if j == 0 else 1
                sigs.append(self._layer_signature(space.block, layer, c, stage['width'],
                                                  stride, h, w))
                h, w = out_spatial(h, stride), out_spatial(w, stride)
                c = stage['width']
        return sigs

    def space_signatures(self, space, backbone_cfg, image_size):
        stem = backbone_cfg.get('stem_channels', 64)
        h, w = image_size
        sigs: Set = {('resnet_stem', 3, stem, h, w)}
        h, w = out_spatial(h, 4), out_spatial(w, 4)
        in_widths = [stem]
        for st in space.stages:
            h2, w2 = out_spatial(h, st.stride), out_spatial(w, st.stride)
            for layer in st.ops:
                for c_out in st.widths:
                    for c_in in in_widths:
                        sigs.add(self._layer_signature(space.block, layer, c_in, c_out,
                                                       st.stride, h, w))
                    if st.max_depth > 1:
                        sigs.add(self._layer_signature(space.block, layer, c_out, c_out, 1,
                                                       h2, w2))
            h, w = h2, w2
            in_widths = list(st.widths)
        return sorted(sigs, key=repr)

    def layer_factory(self, backbone_cfg):
        norm_cfg = backbone_cfg.get('norm_cfg', dict(type='BN'))
        kind = self.space(backbone_cfg).block

        def build(signature):
            if signature[0] == 'resnet_stem':
                _, c_in, c_out, h, w = signature
                module = nn.Sequential(nn.Conv2d(c_in, c_out, 7, 2, 3, bias=False),
                                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                                       nn.MaxPool2d(3, 2, 1))
            elif signature[0] == 'res_block':
                _, block, c_in, c_out, s, k, d, g, h, w = signature
                module = AdaptedResBlock(ResBlockSetting(block, c_in, c_out, s, k, d, g),
                                         norm_cfg)
            elif signature[0] == 'search_op':
                _, layer, c_in, c_out, s, h, w = signature
                module = build_layer(kind, json.loads(layer), c_in, c_out, s, norm_cfg,
                                     'search op')
            else:
                raise ValueError(f'unknown ResNet latency signature kind {signature[0]!r}')
            return module.eval(), torch.zeros(1, c_in, h, w)

        return build


RESNET = register_family(ResNetFamily())
