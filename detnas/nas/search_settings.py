"""The ``search`` section of a search config, validated into :class:`SearchSettings`.

Keys (all optional except ``space``)::

    search = dict(
        space=dict(stages=[...]),          # the backbone search space (detnas.nas.space)
        heldout_fraction=0.2,              # share of the training images scored, not trained
        supernet=dict(max_epochs=4, num_random=2,   # sandwich supernet training
                      param_scheduler=None),  # default: the seed's, cosine cut to max_epochs
        evolution=dict(population_size=12, generations=6),  # EvolutionConfig fields
        objectives=['-bbox_mAP', 'flops', 'params', 'latency_ms'],
        constraints=['flops<=seed'],       # KEY<=NUMBER, KEY>=NUMBER; 'seed': the seed's value
        image_size=(320, 320),             # input size for FLOPs and latency
        bn_calibration=dict(num_batches=4, batch_size=8),
        eval_batch_size=8,
        latency=dict(device=None, threads=None, warmup=3, repeats=10, num_check_archs=6),
        # device None: 'cuda' when available, else 'cpu'
    )

The generator seed of the evolution is ``--seed``, never a config key.
"""
import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import torch

from detnas.utils.errors import DetnasInputError

METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_s', 'flops', 'params', 'latency_ms')
_TOP = ('space', 'heldout_fraction', 'supernet', 'evolution', 'objectives', 'constraints',
        'image_size', 'bn_calibration', 'eval_batch_size', 'latency')
_SUPERNET = ('max_epochs', 'num_random', 'param_scheduler')
_EVOLUTION = ('population_size', 'generations', 'mutation_prob', 'crossover_prob',
              'init_retries', 'offspring_retries')
_BN = ('num_batches', 'batch_size')
_LATENCY = ('device', 'threads', 'warmup', 'repeats', 'num_check_archs')


def _section(cfg: dict, key: str, allowed, defaults: dict) -> dict:
    value = cfg.get(key, {}) or {}
    if not isinstance(value, dict):
        raise DetnasInputError(f'search.{key} must be a dict with keys {list(allowed)}, got '
                               f'{value!r}')
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise DetnasInputError(f'search.{key}: unknown key(s) {unknown}; allowed: '
                               f'{list(allowed)}')
    return {**defaults, **value}


def _positive_int(value, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DetnasInputError(f'{where} must be an integer >= {minimum}, got {value!r}')
    return value


@dataclass
class SearchSettings:
    """Validated ``search`` settings (see the module docstring for the keys)."""
    space: dict
    heldout_fraction: float = 0.2
    supernet_epochs: int = 4
    num_random: int = 2
    supernet_param_scheduler: Optional[list] = None
    evolution: Dict[str, Any] = field(default_factory=dict)
    objectives: List[str] = field(
        default_factory=lambda: ['-bbox_mAP', 'flops', 'params', 'latency_ms'])
    constraints: List[str] = field(default_factory=lambda: ['flops<=seed'])
    image_size: Tuple[int, int] = (320, 320)
    bn_batches: int = 4
    bn_batch_size: int = 8
    eval_batch_size: int = 8
    latency_device: str = 'cpu'
    latency_threads: Optional[int] = None
    latency_warmup: int = 3
    latency_repeats: int = 10
    num_check_archs: int = 6

    @classmethod
    def from_config(cls, cfg) -> 'SearchSettings':
        """Reads ``cfg.search``.

        Args:
            cfg: the search config (an mmengine ``Config``).

        Raises:
            DetnasInputError: the section is missing or a key is unknown or out of range.
        """
        if 'search' not in cfg or not cfg.search:
            raise DetnasInputError('the config has no "search" section; see '
                                   'configs/search/README.md for its keys')
        raw = cfg.search.to_dict() if hasattr(cfg.search, 'to_dict') else dict(cfg.search)
        unknown = sorted(set(raw) - set(_TOP))
        if unknown:
            raise DetnasInputError(f'search: unknown key(s) {unknown}; allowed: {list(_TOP)}')
        if 'space' not in raw:
            raise DetnasInputError('search.space is missing: give dict(stages=[...]), one dict '
                                   'per seed stage (see detnas/nas/space.py)')
        sup = _section(raw, 'supernet', _SUPERNET, dict(max_epochs=4, num_random=2,
                                                        param_scheduler=None))
        evo = _section(raw, 'evolution', _EVOLUTION, {})
        bn = _section(raw, 'bn_calibration', _BN, dict(num_batches=4, batch_size=8))
        lat = _section(raw, 'latency', _LATENCY, dict(device=None, threads=None, warmup=3,
                                                      repeats=10, num_check_archs=6))
        fraction = raw.get('heldout_fraction', 0.2)
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
                or not 0 < fraction < 1:
            raise DetnasInputError(f'search.heldout_fraction must be in (0, 1), got '
                                   f'{fraction!r}')
        objectives = list(raw.get('objectives', cls.__dataclass_fields__['objectives']
                                  .default_factory()))
        for key in objectives:
            if not isinstance(key, str) or key.lstrip('-') not in METRICS:
                raise DetnasInputError(f'search.objectives: {key!r} is not a metric; choose '
                                       f'from {list(METRICS)} (prefix "-" to maximise)')
        if not any(k.lstrip('-').startswith('bbox_') for k in objectives):
            raise DetnasInputError('search.objectives must include an accuracy objective such '
                                   "as '-bbox_mAP'")
        constraints = raw.get('constraints', ['flops<=seed'])
        if isinstance(constraints, str) or not isinstance(constraints, (list, tuple)):
            raise DetnasInputError(f'search.constraints must be a list of strings such as '
                                   f"'flops<=seed', got {constraints!r}")
        size = raw.get('image_size', (320, 320))
        if isinstance(size, int):
            size = (size, size)
        if not isinstance(size, (list, tuple)) or len(size) != 2:
            raise DetnasInputError(f'search.image_size must be (height, width), got {size!r}')
        return cls(
            space=copy.deepcopy(raw['space']),
            heldout_fraction=float(fraction),
            supernet_epochs=_positive_int(sup['max_epochs'], 'search.supernet.max_epochs'),
            num_random=_positive_int(sup['num_random'], 'search.supernet.num_random', 0),
            supernet_param_scheduler=copy.deepcopy(sup['param_scheduler']),
            evolution=evo,
            objectives=objectives,
            constraints=list(constraints),
            image_size=(_positive_int(size[0], 'search.image_size[0]', 32),
                        _positive_int(size[1], 'search.image_size[1]', 32)),
            bn_batches=_positive_int(bn['num_batches'], 'search.bn_calibration.num_batches'),
            bn_batch_size=_positive_int(bn['batch_size'], 'search.bn_calibration.batch_size'),
            eval_batch_size=_positive_int(raw.get('eval_batch_size', 8),
                                          'search.eval_batch_size'),
            latency_device=str(lat['device'] or ('cuda' if torch.cuda.is_available()
                                                 else 'cpu')),
            latency_threads=lat['threads'],
            latency_warmup=_positive_int(lat['warmup'], 'search.latency.warmup', 0),
            latency_repeats=_positive_int(lat['repeats'], 'search.latency.repeats'),
            num_check_archs=_positive_int(lat['num_check_archs'],
                                          'search.latency.num_check_archs', 2))
