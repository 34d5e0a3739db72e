"""Cheap metrics of a candidate backbone: FLOPs and params (exact) and predicted latency.

FLOPs and params are counted on the *standalone* exported backbone
(:class:`~detnas.models.backbones.adapted_mobilenet_v2.AdaptedMobileNetV2` built from
:func:`~detnas.nas.export.adapted_backbone_config`), so they are those of the network that
``tools/train.py`` later fine-tunes (the elastic supernet cannot be traced: its slices depend
on input shapes). ``flops`` is mmengine's ``FlopAnalyzer`` total for one image of
``image_size`` (fvcore convention: one multiply-add counts once, an affine BN two per output
element; layers that feed no returned output drop out of the traced graph).

Latency is predicted by a per-layer :class:`~detnas.nas.latency.LatencyTable`: a layer's
signature is ``('mbconv', in, out, mid, kernel, stride, dilation, expand, H, W)`` or
``('conv', in, out, kernel, stride, H, W)`` (stem and last conv); the prediction is the sum
over the arch's layers. :func:`space_signatures` lists every signature any arch of a space
can produce, so a table can be measured once before the search starts.
"""
import math
from typing import Dict, Iterable, List, Set, Tuple

import torch
from mmcv.cnn import ConvModule
from torch import nn

from detnas.models.backbones.adapted_mobilenet_v2 import (MOBILENET_V2_ARCH,
                                                         AdaptedInvertedResidual,
                                                         AdaptedMobileNetV2, MBBlockSetting,
                                                         resolve_mobilenet_v2_arch)
from detnas.utils.complexity import count_params, model_complexity
from .export import adapted_backbone_config
from .latency import LatencyCase, LatencyTable, Signature
from .space import Arch, SearchSpace


def fixed_backbone(backbone_cfg: dict, arch: Arch) -> AdaptedMobileNetV2:
    """The standalone backbone of ``arch`` (random weights; for counting and timing).

    Args:
        backbone_cfg: the supernet's ``ElasticMobileNetV2`` config.
        arch: an arch of its space.
    """
    fixed = adapted_backbone_config(backbone_cfg, arch)
    fixed.pop('type')
    fixed.pop('frozen_stages', None)
    return AdaptedMobileNetV2(**fixed).eval()


def _out(size: int, stride: int) -> int:
    return math.ceil(size / stride)  # same padding: ceil(size / stride) for odd kernels


def _conv_signature(c_in: int, c_out: int, kernel: int, stride: int, h: int, w: int):
    return ('conv', c_in, c_out, kernel, stride, h, w)


def _block_signature(c_in: int, c_out: int, expand: float, kernel: int, stride: int,
                     dilation: int, h: int, w: int):
    mid = int(round(c_in * expand))
    return ('mbconv', c_in, c_out, mid, kernel, stride, dilation, expand != 1, h, w)


def layer_signatures(backbone_cfg: dict, arch: Arch, image_size: Tuple[int, int]
                     ) -> List[Signature]:
    """One latency signature per layer of the standalone backbone of ``arch``.

    Args:
        backbone_cfg: the supernet's ``ElasticMobileNetV2`` config.
        arch: an arch of its space.
        image_size: input (height, width).
    """
    fixed = adapted_backbone_config(backbone_cfg, arch)
    layout = resolve_mobilenet_v2_arch(fixed['arch_setting'], fixed['stem_channels'],
                                       fixed['last_channels'])
    h, w = image_size
    sigs = [_conv_signature(3, layout.stem_channels, 3, 2, h, w)]
    h, w = _out(h, 2), _out(w, 2)
    c = layout.stem_channels
    for blocks in layout.stages:
        for b in blocks:
            sigs.append(('mbconv', b.in_channels, b.out_channels, b.mid_channels,
                         b.kernel_size, b.stride, b.dilation, b.with_expand_conv, h, w))
            h, w = _out(h, b.stride), _out(w, b.stride)
            c = b.out_channels
    sigs.append(_conv_signature(c, layout.last_channels, 1, 1, h, w))
    return sigs


def space_signatures(space: SearchSpace, backbone_cfg: dict, image_size: Tuple[int, int]
                     ) -> List[Signature]:
    """Every layer signature an arch of ``space`` can have (sorted, no duplicates).

    Args:
        space: the search space.
        backbone_cfg: the supernet's ``ElasticMobileNetV2`` config (stem and last widths).
        image_size: input (height, width).
    """
    stem = resolve_mobilenet_v2_arch(backbone_cfg.get('seed_arch_setting', MOBILENET_V2_ARCH),
                                     widen_factor=backbone_cfg.get('seed_widen_factor', 1.0)
                                     ).stem_channels
    last = backbone_cfg.get('last_channels', 1280)
    h, w = image_size
    sigs: Set[Signature] = {_conv_signature(3, stem, 3, 2, h, w)}
    h, w = _out(h, 2), _out(w, 2)
    in_widths = [stem]
    for st in space.stages:
        h2, w2 = _out(h, st.stride), _out(w, st.stride)
        for c_out in st.widths:
            for k in st.kernels:
                for e in st.expand_ratios:
                    for c_in in in_widths:
                        sigs.add(_block_signature(c_in, c_out, e, k, st.stride, st.dilation,
                                                  h, w))
                    if st.max_depth > 1:
                        sigs.add(_block_signature(c_out, c_out, e, k, 1, st.dilation, h2, w2))
        h, w = h2, w2
        in_widths = list(st.widths)
    for c_in in in_widths:
        sigs.add(_conv_signature(c_in, last, 1, 1, h, w))
    return sorted(sigs, key=repr)


def layer_factory(norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU6')):
    """A :class:`LatencyTable` factory building the layer of a signature and its input.

    Args:
        norm_cfg: norm layer config of the backbone.
        act_cfg: activation config of the backbone.
    """

    def build(signature: Signature) -> Tuple[nn.Module, torch.Tensor]:
        kind = signature[0]
        if kind == 'conv':
            _, c_in, c_out, k, s, h, w = signature
            module = ConvModule(c_in, c_out, k, stride=s, padding=k // 2, norm_cfg=norm_cfg,
                                act_cfg=act_cfg)
        elif kind == 'mbconv':
            _, c_in, c_out, mid, k, s, d, expand, h, w = signature
            module = AdaptedInvertedResidual(
                MBBlockSetting(c_in, c_out, mid, k, s, d, expand), norm_cfg=norm_cfg,
                act_cfg=act_cfg)
        else:
            raise ValueError(f'unknown latency signature kind {kind!r}')
        return module.eval(), torch.zeros(1, c_in, h, w)

    return build


class CandidateCost:
    """``arch -> {'flops', 'params', 'latency_ms'}`` with a cache keyed by fingerprint.

    Args:
        space: the search space.
        backbone_cfg: the supernet's ``ElasticMobileNetV2`` config.
        image_size: input (height, width) for FLOPs and latency.
        table: the latency table (every signature measured beforehand, or with a factory).
    """

    def __init__(self, space: SearchSpace, backbone_cfg: dict, image_size: Tuple[int, int],
                 table: LatencyTable):
        self.space = space
        self.backbone_cfg = backbone_cfg
        self.image_size = tuple(image_size)
        self.table = table
        self._cache: Dict[str, Dict[str, float]] = {}

    def __call__(self, arch: Arch) -> Dict[str, float]:
        key = self.space.fingerprint(arch)
        if key not in self._cache:
            model = fixed_backbone(self.backbone_cfg, arch)
            counts = model_complexity(model, self.image_size)
            latency = self.table.predict(layer_signatures(self.backbone_cfg, arch,
                                                          self.image_size))
            self._cache[key] = dict(flops=float(counts['macs']),
                                    params=float(count_params(model)),
                                    latency_ms=float(latency))
        return dict(self._cache[key])


def latency_cases(backbone_cfg: dict, archs: Dict[str, Arch], image_size: Tuple[int, int]
                  ) -> List[LatencyCase]:
    """Whole standalone backbones to check the latency predictor on.

    Args:
        backbone_cfg: the supernet's ``ElasticMobileNetV2`` config.
        archs: name -> arch.
        image_size: input (height, width).
    """
    return [LatencyCase(name, fixed_backbone(backbone_cfg, arch),
                        torch.zeros(1, 3, *image_size),
                        layer_signatures(backbone_cfg, arch, image_size))
            for name, arch in archs.items()]


def missing_signatures(table: LatencyTable, signatures: Iterable[Signature]) -> List[Signature]:
    """Signatures not yet in ``table``."""
    return [s for s in signatures if s not in table]
