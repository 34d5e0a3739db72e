"""Export a searched sub-net: a fixed backbone config, its weights, a detector config.

Given a supernet detector (a supernet backbone of a :mod:`~detnas.nas.families` family,
optionally an :class:`~detnas.nas.supernet.ElasticFPN` neck) and an arch:

* :func:`exported_config` - the supernet's detector config with the backbone replaced by the
  arch's fixed backbone (the family's ``fixed_backbone_config``), the elastic FPN turned
  into a plain ``FPN`` on the sub-net's widths;
* :func:`subnet_state_dict` - the detector's tensors for the arch: the backbone's and the
  neck's active slices as their elastic layers export them (``static_state``), the rest as
  trained;
* :func:`export_subnet` - writes ``<name>.py`` (the config, ``load_from`` set),
  ``<name>.pth`` (the weights) and ``<name>.yaml`` (the arch). ``tools/train.py <name>.py``
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

from detnas.utils.errors import DetnasInputError
from ..families import SearchFamily
from ..space import Arch, dump_arch_yaml
from .supernet_config import supernet_family


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


def exported_config(cfg: Config, arch: Arch, checkpoint: Optional[str] = None,
                    family: Optional[SearchFamily] = None) -> Config:
    """The supernet detector config with the fixed backbone and a plain FPN of the arch.

    Args:
        cfg: the supernet detector config.
        arch: an arch of its space.
        checkpoint: written as ``load_from`` when given.
        family: the bound family of ``cfg``'s backbone (bound here when None).
    """
    family = family or supernet_family(cfg)
    out = Config(copy.deepcopy(cfg.to_dict()))
    out.model.backbone = family.fixed_backbone_config(arch)
    neck = out.model.get('neck')
    if isinstance(neck, dict) and neck.get('type') == 'ElasticFPN':
        neck['type'] = 'FPN'
        neck['in_channels'] = family.output_widths(arch)
    if checkpoint is not None:
        out.load_from = checkpoint
    out.custom_imports = dict(imports=['detnas'], allow_failed_imports=False)
    return out


def subnet_state_dict(model: nn.Module, arch: Arch, family: SearchFamily
                      ) -> Dict[str, Tensor]:
    """The state dict of the exported detector of ``arch`` from a supernet detector.

    Args:
        model: the supernet detector (its current tensors are exported: recalibrate BN for
            ``arch`` first).
        arch: an arch of its space.
        family: the bound family of its backbone.
    """
    with model.backbone.arch_context(arch):
        backbone = model.backbone.static_state()
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
             if not k.startswith(('backbone.', 'neck.'))}
    state.update({'backbone.' + k: v.cpu() for k, v in backbone.items()})
    neck = getattr(model, 'neck', None)
    if neck is not None:
        neck_state = (neck.static_state(family.output_widths(arch))
                      if hasattr(neck, 'static_state') else neck.state_dict())
        state.update({'neck.' + k: v.detach().cpu().clone() for k, v in neck_state.items()})
    return state


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
        model = load_supernet(cfg, checkpoint)
    family = supernet_family(cfg)
    arch = family.space.validate(arch)
    state = subnet_state_dict(model, arch, family)
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = osp.abspath(osp.join(out_dir, f'{name}.pth'))
    cfg_path = osp.join(out_dir, f'{name}.py')
    yaml_path = osp.join(out_dir, f'{name}.yaml')
    torch.save(dict(state_dict=state, meta=dict(arch=arch, exported_from='supernet')),
               ckpt_path)
    new_cfg = exported_config(cfg, arch, ckpt_path, family)
    new_cfg.dump(cfg_path)
    dump_arch_yaml(arch, yaml_path)
    return ExportResult(cfg_path, ckpt_path, yaml_path, new_cfg.model.backbone.to_dict())


def load_supernet(cfg: Config, checkpoint: str) -> nn.Module:
    """The supernet detector of ``cfg`` with a checkpoint's weights (CPU).

    Args:
        cfg: the supernet detector config.
        checkpoint: a supernet checkpoint the search's Runner wrote (strictly loaded; its
            logging state needs the full unpickler, so load only files you trust).
    """
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    from detnas.checkpoints.converters import unwrap_state_dict
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(copy.deepcopy(cfg.model))
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    model.load_state_dict(unwrap_state_dict(state), strict=True)
    return model
