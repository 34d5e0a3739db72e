"""Turn a seed detector config into its supernet config.

The seed detector's MobileNetV2 backbone (mmdet ``MobileNetV2`` or ``AdaptedMobileNetV2``
with the seed's table) becomes an :class:`~detnas.models.backbones.ElasticMobileNetV2` over
the search space, initialised from the seed checkpoint of its ``init_cfg``; an ``FPN`` neck
becomes an :class:`~detnas.models.necks.ElasticFPN` taking the largest widths. Everything
else (head, data, schedule) is kept.
"""
import copy

from mmengine.config import Config

from detnas.models.backbones.adapted_mobilenet_v2 import MOBILENET_V2_ARCH
from detnas.utils.errors import DetnasInputError
from .space import SearchSpace

# seed-backbone arguments carried over to the supernet as they are
_KEPT = ('out_indices', 'frozen_stages', 'norm_cfg', 'act_cfg', 'norm_eval')


def supernet_backbone_config(backbone: dict, search_space: dict) -> dict:
    """The ``ElasticMobileNetV2`` config for a seed backbone config.

    Args:
        backbone: the seed detector's ``model.backbone``.
        search_space: ``dict(stages=[...])``.

    Raises:
        DetnasInputError: the backbone is not a MobileNetV2 seed or has no checkpoint.
    """
    kind = backbone.get('type')
    if kind not in ('MobileNetV2', 'AdaptedMobileNetV2'):
        raise DetnasInputError(f'model.backbone.type is {kind!r}; the MobileNetV2 supernet '
                               'needs a MobileNetV2 (or AdaptedMobileNetV2) seed backbone')
    init_cfg = backbone.get('init_cfg') or {}
    checkpoint = init_cfg.get('checkpoint') if isinstance(init_cfg, dict) else None
    if not checkpoint:
        raise DetnasInputError('model.backbone.init_cfg has no checkpoint; the supernet is '
                               "initialised from the seed: set init_cfg=dict(type='Pretrained', "
                               "checkpoint='detnas://mobilenet_v2_imagenet')")
    out = dict(type='ElasticMobileNetV2', search_space=copy.deepcopy(search_space),
               seed=checkpoint,
               seed_arch_setting=copy.deepcopy(backbone.get('arch_setting')
                                               or MOBILENET_V2_ARCH),
               seed_widen_factor=backbone.get('widen_factor', 1.0))
    for key in ('last_channels', *_KEPT):
        if key in backbone:
            out[key] = copy.deepcopy(backbone[key])
    return out


def build_supernet_config(cfg: Config, search_space: dict) -> Config:
    """A copy of a seed detector config with the supernet backbone and an elastic FPN.

    Args:
        cfg: the seed detector config.
        search_space: ``dict(stages=[...])`` (validated against the seed here).
    """
    out = Config(copy.deepcopy(cfg.to_dict()))
    backbone = supernet_backbone_config(out.model.backbone.to_dict(), search_space)
    space = SearchSpace.from_config(search_space,
                                    seed_arch_setting=backbone['seed_arch_setting'],
                                    seed_widen_factor=backbone['seed_widen_factor'])
    out.model.backbone = backbone
    neck = out.model.get('neck')
    if isinstance(neck, dict) and neck.get('type') == 'FPN':
        out_indices = backbone.get('out_indices', (1, 2, 4, 7))
        widths = [st.widths[-1] for st in space.stages] + [backbone.get('last_channels', 1280)]
        neck['type'] = 'ElasticFPN'
        neck['in_channels'] = [widths[i] for i in out_indices]
    elif neck is not None:
        raise DetnasInputError(f'model.neck.type is {neck.get("type")!r}; the supernet adapts '
                               'an FPN neck to the sampled widths (use FPN)')
    out.custom_imports = dict(imports=['detnas'], allow_failed_imports=False)
    return out
