"""Turn a seed detector config into its supernet config.

The seed detector's backbone becomes the supernet of its family (see
:mod:`detnas.nas.families`: a MobileNetV2 seed an ``ElasticMobileNetV2``, a ResNet seed an
``ElasticResNet``) over the search space, initialised from the seed checkpoint of its
``init_cfg``; an ``FPN`` neck becomes an :class:`~detnas.nas.supernet.ElasticFPN` taking the
largest widths. Everything else (head, data, schedule) is kept.
"""
import copy

from mmengine.config import Config

from detnas.utils.errors import DetnasInputError
from ..families import SearchFamily, bind_family, seed_family


def supernet_backbone_config(backbone: dict, search_space: dict) -> dict:
    """The supernet backbone config for a seed backbone config.

    Args:
        backbone: the seed detector's ``model.backbone``.
        search_space: ``dict(stages=[...])``.

    Raises:
        DetnasInputError: no family adapts the backbone, or it has no checkpoint.
    """
    return seed_family(backbone).supernet_backbone_config(backbone, search_space)


def build_supernet_config(cfg: Config, search_space: dict) -> Config:
    """A copy of a seed detector config with the supernet backbone and an elastic FPN.

    Args:
        cfg: the seed detector config.
        search_space: ``dict(stages=[...])`` (validated against the seed here).
    """
    out = Config(copy.deepcopy(cfg.to_dict()))
    out.model.backbone = supernet_backbone_config(out.model.backbone.to_dict(), search_space)
    family = bind_family(out.model.backbone.to_dict())
    neck = out.model.get('neck')
    if isinstance(neck, dict) and neck.get('type') == 'FPN':
        neck['type'] = 'ElasticFPN'
        neck['in_channels'] = family.output_widths(family.space.largest())
    elif neck is not None:
        raise DetnasInputError(f'model.neck.type is {neck.get("type")!r}; the supernet adapts '
                               'an FPN neck to the sampled widths (use FPN)')
    out.custom_imports = dict(imports=['detnas'], allow_failed_imports=False)
    return out


def supernet_family(cfg: Config) -> SearchFamily:
    """The bound family of a supernet detector config's backbone."""
    backbone = cfg.model.backbone
    return bind_family(backbone.to_dict() if hasattr(backbone, 'to_dict') else dict(backbone))
