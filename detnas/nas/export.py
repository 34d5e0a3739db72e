"""Export a searched sub-net: a fixed backbone config, its sliced weights, a detector config.

Given a supernet detector (an :class:`~detnas.models.backbones.ElasticMobileNetV2` backbone,
optionally an :class:`~detnas.models.necks.ElasticFPN` neck) and an arch:

* :func:`adapted_backbone_config` - the :class:`AdaptedMobileNetV2` config of the arch
  (skipped layers removed; per-block kernels and expansion ratios);
* :func:`slice_backbone_state` - the supernet tensors sliced into that backbone's state dict
  (first channels, centre kernel crops, supernet block ``j`` -> exported block ``i`` of the
  ``i``-th non-skipped layer);
* :func:`export_subnet` - writes ``<name>.py`` (the supernet's detector config with the
  backbone replaced, the elastic FPN turned into a plain ``FPN`` on the sub-net's widths,
  ``load_from`` set), ``<name>.pth`` (the whole detector's weights: backbone and neck
  sliced, the rest as trained) and ``<name>.yaml`` (the arch). ``tools/train.py <name>.py``
  then fine-tunes from the exported weights.
"""
import copy
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional

import torch
from mmengine.config import Config
from torch import Tensor, nn

from detnas.models.backbones.adapted_mobilenet_v2 import (MOBILENET_V2_ARCH,
                                                         resolve_mobilenet_v2_arch)
from detnas.utils.errors import DetnasInputError
from .space import (Arch, SearchSpace, dump_arch_yaml, effective_layers,
                    mobilenet_v2_search_space)

BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')


def space_of(backbone_cfg: dict) -> SearchSpace:
    """The search space of an ``ElasticMobileNetV2`` config."""
    return SearchSpace.from_config(
        backbone_cfg.get('search_space') or mobilenet_v2_search_space(),
        seed_arch_setting=backbone_cfg.get('seed_arch_setting', MOBILENET_V2_ARCH),
        seed_widen_factor=backbone_cfg.get('seed_widen_factor', 1.0))


def adapted_backbone_config(backbone_cfg: dict, arch: Arch) -> dict:
    """The fixed ``AdaptedMobileNetV2`` config of ``arch``.

    Args:
        backbone_cfg: the supernet's ``ElasticMobileNetV2`` config.
        arch: an arch of its space.
    """
    if backbone_cfg.get('type') != 'ElasticMobileNetV2':
        raise DetnasInputError(f'model.backbone.type is {backbone_cfg.get("type")!r}; export '
                               'needs an ElasticMobileNetV2 supernet config')
    space = space_of(backbone_cfg)
    arch = space.validate(arch)
    rows = []
    for st_space, stage in zip(space.stages, arch['stages']):
        layers = [layer for _, layer in effective_layers(stage)]
        rows.append([[l['expand_ratio'] for l in layers], stage['width'], len(layers),
                     st_space.stride, [l['kernel'] for l in layers], st_space.dilation])
    stem = resolve_mobilenet_v2_arch(backbone_cfg.get('seed_arch_setting', MOBILENET_V2_ARCH),
                                     widen_factor=backbone_cfg.get('seed_widen_factor', 1.0)
                                     ).stem_channels
    out = dict(type='AdaptedMobileNetV2', arch_setting=rows, stem_channels=stem,
               last_channels=backbone_cfg.get('last_channels', 1280), widen_factor=1.0,
               out_indices=tuple(backbone_cfg.get('out_indices', (1, 2, 4, 7))))
    for key in ('frozen_stages', 'norm_cfg', 'act_cfg', 'norm_eval'):
        if key in backbone_cfg:
            out[key] = copy.deepcopy(backbone_cfg[key])
    return out


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
    for key in BN_KEYS:
        v = sd.get(f'{src}.bn.{key}')
        if v is not None:
            out[f'{dst}.bn.{key}'] = v.clone() if v.dim() == 0 else v[:n_out].clone()


def slice_backbone_state(sd: Dict[str, Tensor], backbone_cfg: dict, arch: Arch
                         ) -> Dict[str, Tensor]:
    """The ``AdaptedMobileNetV2`` state dict of ``arch`` cut from supernet tensors.

    Args:
        sd: the supernet backbone's state dict (keys without ``backbone.``).
        backbone_cfg: the supernet's ``ElasticMobileNetV2`` config.
        arch: an arch of its space.
    """
    space = space_of(backbone_cfg)
    arch = space.validate(arch)
    fixed = adapted_backbone_config(backbone_cfg, arch)
    out: Dict[str, Tensor] = {}
    in_c = fixed['stem_channels']
    _conv_bn(sd, 'conv1', 'conv1', out, in_c, 3)
    for s, (st_space, stage) in enumerate(zip(space.stages, arch['stages']), 1):
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
    last = fixed['last_channels']
    _conv_bn(sd, 'conv2', 'conv2', out, last, in_c)
    return out


def _active_widths(backbone_cfg: dict, arch: Arch):
    space = space_of(backbone_cfg)
    widths = [s['width'] for s in space.validate(arch)['stages']]
    return widths + [backbone_cfg.get('last_channels', 1280)]


def slice_neck_state(sd: Dict[str, Tensor], neck: nn.Module, out_channels) -> Dict[str, Tensor]:
    """The neck's tensors with the input convs of an ``ElasticFPN`` cut to ``out_channels``
    (the backbone outputs' active widths); other necks are returned unchanged."""
    sd = {k: v.clone() for k, v in sd.items()}
    for name, index in getattr(neck, 'sliced_convs', dict)().items():
        key = f'{name}.weight'
        sd[key] = sd[key][:, :out_channels[index]].clone()
    return sd


@dataclass
class ExportResult:
    """Paths written by :func:`export_subnet` and the exported backbone config.

    Args:
        config: the detector config file.
        checkpoint: the detector checkpoint.
        arch_yaml: the arch yaml.
        backbone: the ``AdaptedMobileNetV2`` config.
    """
    config: str
    checkpoint: str
    arch_yaml: str
    backbone: dict


def exported_config(cfg: Config, arch: Arch, checkpoint: Optional[str] = None) -> Config:
    """The supernet detector config with the fixed backbone and a plain FPN of the arch.

    Args:
        cfg: the supernet detector config.
        arch: an arch of its space.
        checkpoint: written as ``load_from`` when given.
    """
    out = Config(copy.deepcopy(cfg.to_dict()))
    supernet = out.model.backbone.to_dict()
    out.model.backbone = adapted_backbone_config(supernet, arch)
    neck = out.model.get('neck')
    if isinstance(neck, dict) and neck.get('type') == 'ElasticFPN':
        widths = _active_widths(supernet, arch)
        neck['type'] = 'FPN'
        neck['in_channels'] = [widths[i] for i in out.model.backbone['out_indices']]
    if checkpoint is not None:
        out.load_from = checkpoint
    out.custom_imports = dict(imports=['detnas'], allow_failed_imports=False)
    return out


def export_subnet(cfg: Config, arch: Arch, out_dir: str, model: Optional[nn.Module] = None,
                  checkpoint: Optional[str] = None, name: str = 'subnet') -> ExportResult:
    """Writes the config, checkpoint and arch yaml of a sub-net.

    Args:
        cfg: the supernet detector config.
        arch: the chosen arch.
        out_dir: output folder (created).
        model: the supernet detector (its current tensors are exported; recalibrate BN
            for ``arch`` first). Built from ``cfg`` and ``checkpoint`` when None.
        checkpoint: a supernet detector checkpoint (used when ``model`` is None).
        name: file stem of the outputs.

    Returns:
        :class:`ExportResult`.
    """
    if model is None:
        if checkpoint is None:
            raise DetnasInputError('export_subnet needs the supernet model or its checkpoint')
        model = _load_supernet(cfg, checkpoint)
    backbone_cfg = cfg.model.backbone.to_dict() if hasattr(cfg.model.backbone, 'to_dict') \
        else dict(cfg.model.backbone)
    space = space_of(backbone_cfg)
    arch = space.validate(arch)
    full = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    state = {k: v for k, v in full.items()
             if not k.startswith('backbone.') and not k.startswith('neck.')}
    backbone_sd = {k[len('backbone.'):]: v for k, v in full.items() if k.startswith('backbone.')}
    state.update({'backbone.' + k: v for k, v in
                  slice_backbone_state(backbone_sd, backbone_cfg, arch).items()})
    if getattr(model, 'neck', None) is not None:
        widths = _active_widths(backbone_cfg, arch)
        out_channels = [widths[i] for i in backbone_cfg.get('out_indices', (1, 2, 4, 7))]
        neck_sd = {k[len('neck.'):]: v for k, v in full.items() if k.startswith('neck.')}
        state.update({'neck.' + k: v for k, v in
                      slice_neck_state(neck_sd, model.neck, out_channels).items()})
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = osp.abspath(osp.join(out_dir, f'{name}.pth'))
    cfg_path = osp.join(out_dir, f'{name}.py')
    yaml_path = osp.join(out_dir, f'{name}.yaml')
    torch.save(dict(state_dict=state, meta=dict(arch=arch, exported_from='supernet')),
               ckpt_path)
    new_cfg = exported_config(cfg, arch, ckpt_path)
    new_cfg.dump(cfg_path)
    dump_arch_yaml(arch, yaml_path)
    return ExportResult(cfg_path, ckpt_path, yaml_path, new_cfg.model.backbone.to_dict())


def _load_supernet(cfg: Config, checkpoint: str) -> nn.Module:
    import detnas.models  # noqa: F401
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    return model
