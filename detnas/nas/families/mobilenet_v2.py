"""The MobileNetV2 family: seed ``MobileNetV2`` / ``AdaptedMobileNetV2``, supernet
:class:`~detnas.models.backbones.ElasticMobileNetV2`, export target ``AdaptedMobileNetV2``.

Latency signatures: ``('mbconv', in, out, mid, kernel, stride, dilation, expand, H, W)``
per inverted residual and ``('conv', in, out, kernel, stride, H, W)`` for the stem and the
last 1x1 conv.
"""
import copy
from typing import Dict, Optional, Set

import torch
from mmcv.cnn import ConvModule
from torch import Tensor

from detnas.models.backbones.adapted_mobilenet_v2 import (MOBILENET_V2_ARCH,
                                                         AdaptedInvertedResidual,
                                                         MBBlockSetting,
                                                         resolve_mobilenet_v2_arch)
from detnas.utils.errors import DetnasInputError
from ..space import Arch, SearchSpace, effective_layers, mobilenet_v2_search_space
from .base import SearchFamily, check_batch_norm, out_spatial, register_family

BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
# seed-backbone arguments carried over to the supernet as they are
_KEPT = ('out_indices', 'frozen_stages', 'norm_cfg', 'act_cfg', 'norm_eval')
DEFAULT_OUT_INDICES = (1, 2, 4, 7)


def seed_checkpoint(backbone: dict, example: str) -> str:
    """The checkpoint of a seed backbone's ``init_cfg``.

    Raises:
        DetnasInputError: there is none (the supernet is initialised from the seed).
    """
    init_cfg = backbone.get('init_cfg') or {}
    checkpoint = init_cfg.get('checkpoint') if isinstance(init_cfg, dict) else None
    if not checkpoint:
        raise DetnasInputError('model.backbone.init_cfg has no checkpoint; the supernet is '
                               "initialised from the seed: set init_cfg=dict(type='Pretrained', "
                               f"checkpoint='{example}')")
    return checkpoint


def _conv_bn(sd: Dict[str, Tensor], src: str, dst: str, out: Dict[str, Tensor],
             n_out: int, n_in: Optional[int], kernel: Optional[int] = None) -> None:
    """Slices ``src.conv.weight`` to ``[:n_out, :n_in]`` (``n_in`` None: depthwise) with a
    centre ``kernel`` crop, and ``src.bn.*`` to ``[:n_out]``, under ``dst``."""
    w = sd[f'{src}.conv.weight'][:n_out]
    if n_in is not None:
        w = w[:, :n_in]
    if kernel is not None and kernel != w.shape[-1]:
        off = (w.shape[-1] - kernel) // 2
        w = w[:, :, off:off + kernel, off:off + kernel]
    out[f'{dst}.conv.weight'] = w.clone()
    slice_norm(sd, f'{src}.bn', f'{dst}.bn', out, n_out)


def slice_norm(sd: Dict[str, Tensor], src: str, dst: str, out: Dict[str, Tensor],
               n_out: int) -> None:
    """Copies the BN tensors ``src.*`` cut to their first ``n_out`` entries to ``dst.*``."""
    for key in BN_KEYS:
        v = sd.get(f'{src}.{key}')
        if v is not None:
            out[f'{dst}.{key}'] = v.clone() if v.dim() == 0 else v[:n_out].clone()


def _conv_signature(c_in: int, c_out: int, kernel: int, stride: int, h: int, w: int):
    return ('conv', c_in, c_out, kernel, stride, h, w)


def _block_signature(c_in: int, c_out: int, expand: float, kernel: int, stride: int,
                     dilation: int, h: int, w: int):
    mid = int(round(c_in * expand))
    return ('mbconv', c_in, c_out, mid, kernel, stride, dilation, expand != 1, h, w)


class MobileNetV2Family(SearchFamily):
    """See the module docstring."""
    name = 'mobilenet_v2'
    seed_types = ('MobileNetV2', 'AdaptedMobileNetV2')
    supernet_type = 'ElasticMobileNetV2'

    def supernet_backbone_config(self, backbone: dict, search_space: dict) -> dict:
        checkpoint = seed_checkpoint(backbone, 'detnas://mobilenet_v2_imagenet')
        check_batch_norm(backbone)
        out = dict(type=self.supernet_type, search_space=copy.deepcopy(search_space),
                   seed=checkpoint,
                   seed_arch_setting=copy.deepcopy(backbone.get('arch_setting')
                                                   or MOBILENET_V2_ARCH),
                   seed_widen_factor=backbone.get('widen_factor', 1.0))
        for key in ('last_channels', *_KEPT):
            if key in backbone:
                out[key] = copy.deepcopy(backbone[key])
        return out

    def space(self, backbone_cfg: dict) -> SearchSpace:
        return SearchSpace.from_config(
            backbone_cfg.get('search_space') or mobilenet_v2_search_space(),
            seed_arch_setting=backbone_cfg.get('seed_arch_setting', MOBILENET_V2_ARCH),
            seed_widen_factor=backbone_cfg.get('seed_widen_factor', 1.0))

    @staticmethod
    def _stem(backbone_cfg: dict) -> int:
        return resolve_mobilenet_v2_arch(
            backbone_cfg.get('seed_arch_setting', MOBILENET_V2_ARCH),
            widen_factor=backbone_cfg.get('seed_widen_factor', 1.0)).stem_channels

    def fixed_backbone_config(self, backbone_cfg: dict, arch: Arch) -> dict:
        space = self.space(backbone_cfg)
        arch = space.validate(arch)
        rows = []
        for st_space, stage in zip(space.stages, arch['stages']):
            layers = [layer for _, layer in effective_layers(stage)]
            rows.append([[l['expand_ratio'] for l in layers], stage['width'], len(layers),
                         st_space.stride, [l['kernel'] for l in layers], st_space.dilation])
        out = dict(type='AdaptedMobileNetV2', arch_setting=rows,
                   stem_channels=self._stem(backbone_cfg),
                   last_channels=backbone_cfg.get('last_channels', 1280), widen_factor=1.0,
                   out_indices=tuple(backbone_cfg.get('out_indices', DEFAULT_OUT_INDICES)))
        for key in ('frozen_stages', 'norm_cfg', 'act_cfg', 'norm_eval'):
            if key in backbone_cfg:
                out[key] = copy.deepcopy(backbone_cfg[key])
        return out

    def slice_backbone_state(self, sd, backbone_cfg, arch):
        """First channels, centre kernel crops; supernet block ``j`` -> exported block ``i``
        of the ``i``-th non-skipped layer."""
        space = self.space(backbone_cfg)
        arch = space.validate(arch)
        fixed = self.fixed_backbone_config(backbone_cfg, arch)
        out: Dict[str, Tensor] = {}
        in_c = fixed['stem_channels']
        _conv_bn(sd, 'conv1', 'conv1', out, in_c, 3)
        for s, stage in enumerate(arch['stages'], 1):
            width = stage['width']
            for i, (j, layer) in enumerate(effective_layers(stage)):
                src, dst = f'layer{s}.{j}', f'layer{s}.{i}'
                if layer['expand_ratio'] != 1:
                    mid = int(round(in_c * layer['expand_ratio']))
                    _conv_bn(sd, f'{src}.expand_conv', f'{dst}.expand_conv', out, mid, in_c)
                else:
                    mid = in_c
                _conv_bn(sd, f'{src}.depthwise_conv', f'{dst}.depthwise_conv', out, mid, None,
                         layer['kernel'])
                _conv_bn(sd, f'{src}.linear_conv', f'{dst}.linear_conv', out, width, mid)
                in_c = width
        _conv_bn(sd, 'conv2', 'conv2', out, fixed['last_channels'], in_c)
        return out

    def output_widths(self, backbone_cfg, arch):
        widths = [s['width'] for s in self.space(backbone_cfg).validate(arch)['stages']]
        widths.append(backbone_cfg.get('last_channels', 1280))
        return [widths[i] for i in backbone_cfg.get('out_indices', DEFAULT_OUT_INDICES)]

    def layer_signatures(self, backbone_cfg, arch, image_size):
        fixed = self.fixed_backbone_config(backbone_cfg, arch)
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

    def space_signatures(self, space, backbone_cfg, image_size):
        stem, last = self._stem(backbone_cfg), backbone_cfg.get('last_channels', 1280)
        h, w = image_size
        sigs: Set = {_conv_signature(3, stem, 3, 2, h, w)}
        h, w = out_spatial(h, 2), out_spatial(w, 2)
        in_widths = [stem]
        for st in space.stages:
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

    def layer_factory(self, backbone_cfg):
        norm_cfg = backbone_cfg.get('norm_cfg', dict(type='BN'))
        act_cfg = backbone_cfg.get('act_cfg', dict(type='ReLU6'))

        def build(signature):
            kind = signature[0]
            if kind == 'conv':
                _, c_in, c_out, k, s, h, w = signature
                module = ConvModule(c_in, c_out, k, stride=s, padding=k // 2,
                                    norm_cfg=norm_cfg, act_cfg=act_cfg)
            elif kind == 'mbconv':
                _, c_in, c_out, mid, k, s, d, expand, h, w = signature
                module = AdaptedInvertedResidual(
                    MBBlockSetting(c_in, c_out, mid, k, s, d, expand), norm_cfg=norm_cfg,
                    act_cfg=act_cfg)
            else:
                raise ValueError(f'unknown MobileNetV2 latency signature kind {kind!r}')
            return module.eval(), torch.zeros(1, c_in, h, w)

        return build


MOBILENET_V2 = register_family(MobileNetV2Family())
