"""What the search needs to know about one kind of seed backbone.

A :class:`SearchFamily` turns a seed backbone config into its supernet config and parses
the search space; for an arch of the space it gives the fixed backbone config that
``tools/train.py`` fine-tunes, that backbone's weights sliced from the supernet, the widths
of the outputs the neck reads, and the per-layer latency signatures. The search, the export
and the cost model go through these and know nothing else about the family.
"""
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from torch import nn

from detnas.utils.errors import DetnasInputError
from ..latency import Signature
from ..space import Arch, StagedSearchSpace

LayerFactory = Callable[[Signature], Tuple[nn.Module, torch.Tensor]]


class SearchFamily:
    """Interface of a backbone family (see the module docstring).

    Attributes:
        name: the family's name (``'mobilenet_v2'``).
        seed_types: backbone ``type`` names a seed of the family may have.
        supernet_type: ``type`` of the family's supernet backbone.
    """
    name: str = ''
    seed_types: Tuple[str, ...] = ()
    supernet_type: str = ''

    def supernet_backbone_config(self, backbone: dict, search_space: dict) -> dict:
        """The supernet backbone config for a seed backbone config.

        Args:
            backbone: the seed detector's ``model.backbone``.
            search_space: ``dict(stages=[...])``.
        """
        raise NotImplementedError

    def space(self, backbone_cfg: dict) -> StagedSearchSpace:
        """The search space of a supernet backbone config."""
        raise NotImplementedError

    def fixed_backbone_config(self, backbone_cfg: dict, arch: Arch) -> dict:
        """The standalone backbone config of ``arch`` (what the export writes).

        Args:
            backbone_cfg: the supernet backbone config.
            arch: an arch of its space.
        """
        raise NotImplementedError

    def slice_backbone_state(self, sd: Dict[str, torch.Tensor], backbone_cfg: dict,
                             arch: Arch) -> Dict[str, torch.Tensor]:
        """The standalone backbone's state dict of ``arch`` cut from supernet tensors.

        Args:
            sd: the supernet backbone's state dict (keys without ``backbone.``).
            backbone_cfg: the supernet backbone config.
            arch: an arch of its space.
        """
        raise NotImplementedError

    def output_widths(self, backbone_cfg: dict, arch: Arch) -> List[int]:
        """Channels of every output the backbone returns (``out_indices`` order)."""
        raise NotImplementedError

    def layer_signatures(self, backbone_cfg: dict, arch: Arch,
                         image_size: Tuple[int, int]) -> List[Signature]:
        """One latency signature per layer of the standalone backbone of ``arch``."""
        raise NotImplementedError

    def space_signatures(self, space: StagedSearchSpace, backbone_cfg: dict,
                         image_size: Tuple[int, int]) -> List[Signature]:
        """Every layer signature an arch of ``space`` can have (sorted, no duplicates)."""
        raise NotImplementedError

    def layer_factory(self, backbone_cfg: dict) -> LayerFactory:
        """A :class:`~detnas.nas.latency.LatencyTable` factory: signature -> (the layer in
        eval mode, a zero input)."""
        raise NotImplementedError


FAMILIES: Dict[str, SearchFamily] = {}


def register_family(family: SearchFamily) -> SearchFamily:
    """Adds ``family`` to :data:`FAMILIES` (by name)."""
    FAMILIES[family.name] = family
    return family


def family_of(backbone_cfg: dict, supernet: bool = False) -> SearchFamily:
    """The family of a seed or supernet backbone config, from its ``type``.

    Args:
        backbone_cfg: a backbone config.
        supernet: accept supernet types only (export and costs work on supernet configs).

    Raises:
        DetnasInputError: no registered family knows the type.
    """
    kind = backbone_cfg.get('type') if isinstance(backbone_cfg, dict) else None
    for family in FAMILIES.values():
        if kind == family.supernet_type or (not supernet and kind in family.seed_types):
            return family
    known: Sequence[str] = sorted(t for f in FAMILIES.values() for t in (
        (f.supernet_type, ) if supernet else (*f.seed_types, f.supernet_type)))
    what = 'a supernet backbone of the types' if supernet else 'backbones of the types'
    raise DetnasInputError(f'model.backbone.type is {kind!r}; the search needs {what} '
                           f'{list(known)}')


def check_batch_norm(backbone: dict) -> None:
    """Raises :class:`DetnasInputError` unless the seed backbone normalises with BN (the
    supernet's elastic layers slice BatchNorm statistics).

    Args:
        backbone: the seed's ``model.backbone`` config.
    """
    norm = (backbone.get('norm_cfg') or {}).get('type', 'BN')
    if norm not in ('BN', 'BN2d'):
        raise DetnasInputError(f"model.backbone.norm_cfg.type is {norm!r}; the supernet's "
                               "elastic layers support BatchNorm only (norm_cfg=dict(type='BN'))")


def out_spatial(size: int, stride: int) -> int:
    """Output size of a same-padded layer with odd kernel: ``ceil(size / stride)``."""
    return -(-size // stride)
