"""What the search needs to know about one kind of seed backbone, bound once to a supernet.

A family class turns a seed backbone config into its supernet config
(:meth:`SearchFamily.supernet_backbone_config`). An instance is bound to one supernet
backbone config: it parses the constructor arguments and the search space once, and for an
arch of that space gives the fixed backbone config that ``tools/train.py`` fine-tunes, the
widths of the outputs the neck reads and the per-layer latency signatures. The search, the
export and the cost model go through a bound family and know nothing else about it; the
exported weights come from the supernet module itself (``ElasticBackbone.static_state``).

A family lives in one package under :mod:`detnas.nas.families` (space, supernet, mapping
spec, checkpoint converters, this class) and registers its class with
:func:`register_family`.
"""
import copy
from typing import Dict, List, Sequence, Tuple, Type

import torch
from torch import nn

from detnas.utils.errors import DetnasInputError
from ..latency import Signature
from ..space import Arch, StagedSearchSpace
from ..supernet.backbone import ElasticBackbone
from ..supernet.layers import check_batch_norm


def out_spatial(size: int, stride: int) -> int:
    """Output size of a same-padded layer with odd kernel: ``ceil(size / stride)``."""
    return -(-size // stride)


def seed_checkpoint(backbone: dict, example: str) -> str:
    """The checkpoint of a seed backbone's ``init_cfg`` (the supernet is initialised from it).

    Args:
        backbone: the seed detector's ``model.backbone``.
        example: a checkpoint to show in the message.

    Raises:
        DetnasInputError: there is none.
    """
    init_cfg = backbone.get('init_cfg') or {}
    checkpoint = init_cfg.get('checkpoint') if isinstance(init_cfg, dict) else None
    if not checkpoint:
        raise DetnasInputError('model.backbone.init_cfg has no checkpoint; the supernet is '
                               "initialised from the seed: set init_cfg=dict(type='Pretrained', "
                               f"checkpoint='{example}')")
    return checkpoint


class SearchFamily:
    """A backbone family bound to one supernet backbone config (see the module docstring).

    Class attributes:
        name: the family's name (``'mobilenet_v2'``).
        seed_types: backbone ``type`` names a seed of the family may have.
        supernet_class: the family's supernet backbone (an :class:`ElasticBackbone`).
        seed_example: a seed checkpoint to show in messages.
        kept_keys: seed-backbone arguments carried over to the supernet as they are.

    Args:
        backbone_cfg: the supernet backbone config (``type`` = the supernet class's name).

    Attributes:
        args: every constructor argument of the supernet, defaults filled in.
        space: the parsed search space.
    """
    name: str = ''
    seed_types: Tuple[str, ...] = ()
    supernet_class: Type[ElasticBackbone] = ElasticBackbone
    seed_example: str = ''
    kept_keys: Tuple[str, ...] = ('out_indices', 'frozen_stages', 'norm_cfg', 'norm_eval')

    def __init__(self, backbone_cfg: dict):
        self.backbone_cfg = copy.deepcopy(dict(backbone_cfg))
        self.args = self.supernet_class.arguments(self.backbone_cfg)
        self.space: StagedSearchSpace = self.supernet_class.space_of(self.args)

    @classmethod
    def supernet_type(cls) -> str:
        """``type`` of the family's supernet backbone."""
        return cls.supernet_class.__name__

    # ------------------------------------------------------------------ seed -> supernet
    @classmethod
    def supernet_backbone_config(cls, backbone: dict, search_space: dict) -> dict:
        """The supernet backbone config for a seed backbone config: the family's own
        arguments (:meth:`seed_arguments`) plus the search space, the seed checkpoint and
        the :attr:`kept_keys` of the seed.

        Args:
            backbone: the seed detector's ``model.backbone``.
            search_space: ``dict(stages=[...])``.

        Raises:
            DetnasInputError: no checkpoint, not BatchNorm, or a seed the supernet cannot
                build (the message names the key).
        """
        checkpoint = seed_checkpoint(backbone, cls.seed_example)
        check_batch_norm(backbone.get('norm_cfg'), 'model.backbone.norm_cfg')
        out = dict(type=cls.supernet_type(), search_space=copy.deepcopy(search_space),
                   seed=checkpoint, **cls.seed_arguments(backbone))
        out.update({k: copy.deepcopy(backbone[k]) for k in cls.kept_keys if k in backbone})
        return out

    @classmethod
    def seed_arguments(cls, backbone: dict) -> dict:
        """The supernet arguments that describe the seed architecture of a seed config."""
        raise NotImplementedError

    # ------------------------------------------------------------------ arch queries
    def fixed_backbone_config(self, arch: Arch) -> dict:
        """The standalone backbone config of ``arch`` (what the export writes)."""
        raise NotImplementedError

    def output_widths(self, arch: Arch) -> List[int]:
        """Channels of every output the backbone returns (``out_indices`` order)."""
        raise NotImplementedError

    def uniform_backbone_config(self, width: float = 1.0, depth: float = 1.0,
                                divisor: int = 8) -> dict:
        """The seed scaled uniformly, as a fixed backbone config: every stage's width times
        ``width`` (rounded to a multiple of ``divisor``), every stage's block count times
        ``depth`` (rounded, at least one); everything else the seed's. The baseline a search
        must beat at equal cost (:mod:`detnas.nas.scaling`).

        Args:
            width: width multiplier.
            depth: depth multiplier.
            divisor: widths are multiples of it (8: the family's usual rounding; smaller
                reaches FLOPs between its steps).
        """
        raise NotImplementedError

    def build_fixed_backbone(self, arch: Arch) -> nn.Module:
        """The standalone backbone of ``arch`` in eval mode (random weights; for counting
        and timing)."""
        from mmdet.registry import MODELS
        fixed = self.fixed_backbone_config(arch)
        fixed.pop('frozen_stages', None)
        return MODELS.build(fixed).eval()

    # ------------------------------------------------------------------ latency
    def layer_signatures(self, arch: Arch, image_size: Tuple[int, int]) -> List[Signature]:
        """One latency signature per layer of the standalone backbone of ``arch``."""
        raise NotImplementedError

    def space_signatures(self, image_size: Tuple[int, int]) -> List[Signature]:
        """Every layer signature an arch of the space can have (sorted, no duplicates)."""
        raise NotImplementedError

    def latency_layer(self, signature: Signature) -> Tuple[nn.Module, torch.Tensor]:
        """A :class:`~detnas.nas.latency.LatencyTable` factory: the layer of a signature in
        eval mode and a zero input for it."""
        raise NotImplementedError

    def _kept(self, keys: Sequence[str]) -> dict:
        """The supernet arguments ``keys`` (deep copies), for a fixed backbone config."""
        return {k: copy.deepcopy(self.args[k]) for k in keys}


FAMILIES: Dict[str, Type[SearchFamily]] = {}


def register_family(cls: Type[SearchFamily]) -> Type[SearchFamily]:
    """Class decorator adding a family to :data:`FAMILIES` (by name)."""
    FAMILIES[cls.name] = cls
    return cls


def _family_type(kind, supernet: bool) -> Type[SearchFamily]:
    for family in FAMILIES.values():
        if kind == family.supernet_type() or (not supernet and kind in family.seed_types):
            return family
    known = sorted(t for f in FAMILIES.values() for t in (
        (f.supernet_type(), ) if supernet else (*f.seed_types, f.supernet_type())))
    what = 'a supernet backbone of the types' if supernet else 'backbones of the types'
    raise DetnasInputError(f'model.backbone.type is {kind!r}; the search needs {what} '
                           f'{known}')


def seed_family(backbone_cfg: dict) -> Type[SearchFamily]:
    """The family class of a seed (or supernet) backbone config, from its ``type``.

    Raises:
        DetnasInputError: no registered family knows the type.
    """
    return _family_type(backbone_cfg.get('type') if isinstance(backbone_cfg, dict) else None,
                        supernet=False)


def bind_family(backbone_cfg: dict) -> SearchFamily:
    """The family of a supernet backbone config, bound to it (space parsed once).

    Raises:
        DetnasInputError: the type is not a registered supernet, or its arguments are bad.
    """
    kind = backbone_cfg.get('type') if isinstance(backbone_cfg, dict) else None
    return _family_type(kind, supernet=True)(backbone_cfg)
