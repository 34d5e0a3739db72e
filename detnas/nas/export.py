"""Export a searched sub-net: a fixed backbone config, its sliced weights, a detector config.

Given a supernet detector (a supernet backbone of a :mod:`~detnas.nas.families` family,
e.g. :class:`~detnas.models.backbones.ElasticMobileNetV2`, optionally an
:class:`~detnas.models.necks.ElasticFPN` neck) and an arch:

* :func:`adapted_backbone_config` - the fixed backbone config of the arch (e.g.
  :class:`AdaptedMobileNetV2`: skipped layers removed, per-block kernels and expansions);
* :func:`slice_backbone_state` - the supernet tensors sliced into that backbone's state dict
  (first channels, centre kernel crops, the active blocks renumbered);
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
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from torch import Tensor, nn

from detnas.utils.errors import DetnasInputError
from .families import family_of
from .space import Arch, StagedSearchSpace, dump_arch_yaml

def space_of(backbone_cfg: dict) -> StagedSearchSpace:
    """The search space of a supernet backbone config."""
    return family_of(backbone_cfg, supernet=True).space(backbone_cfg)


def adapted_backbone_config(backbone_cfg: dict, arch: Arch) -> dict:
    """The fixed backbone config of ``arch`` (e.g. ``AdaptedMobileNetV2``).

    Args:
        backbone_cfg: the supernet backbone config.
        arch: an arch of its space.
    """
    return family_of(backbone_cfg, supernet=True).fixed_backbone_config(backbone_cfg, arch)


def slice_backbone_state(sd: Dict[str, Tensor], backbone_cfg: dict, arch: Arch
                         ) -> Dict[str, Tensor]:
    """The fixed backbone's state dict of ``arch`` cut from supernet tensors.

    Args:
        sd: the supernet backbone's state dict (keys without ``backbone.``).
        backbone_cfg: the supernet backbone config.
        arch: an arch of its space.
    """
    return family_of(backbone_cfg, supernet=True).slice_backbone_state(sd, backbone_cfg, arch)


def output_widths(backbone_cfg: dict, arch: Arch) -> List[int]:
    """Channels of the backbone outputs of ``arch`` (``out_indices`` order)."""
    return family_of(backbone_cfg, supernet=True).output_widths(backbone_cfg, arch)


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
        backbone: the fixed backbone config.
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
        neck['type'] = 'FPN'
        neck['in_channels'] = output_widths(supernet, arch)
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
        out_channels = output_widths(backbone_cfg, arch)
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
