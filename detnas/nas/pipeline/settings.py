"""The ``search`` section of a search config, validated into :class:`SearchSettings`.

Keys (all optional except ``space``; the defaults are the dataclass fields below, written
nowhere else)::

    search = dict(
        space=dict(stages=[...]),          # the backbone search space (its family's)
        heldout_fraction=0.2,              # share of the training images scored, not trained
        tie_se=1.0,                        # choice: spend the budget among members within
                                           # this many standard errors of the best (0: off)
        supernet=dict(max_epochs=4, num_random=2,   # sandwich supernet training
                      param_scheduler=None),  # default: the seed's, cosine cut to max_epochs
        evolution=dict(population_size=16, generations=10),  # EvolutionConfig fields
        objectives=['-bbox_mAP', 'flops', 'params', 'latency_ms'],
        constraints=['flops<=seed'],       # KEY<=NUMBER, KEY>=NUMBER; 'seed': the seed's value
        image_size=(320, 320),             # input size for FLOPs and latency
        bn_calibration=dict(num_batches=4, batch_size=8),
        eval_batch_size=8,
        latency=dict(device=None, threads=None, warmup=3, repeats=10, num_check_archs=6,
                     table=None, runtime='torch'),
        # device None: 'cuda' when available, else 'cpu'; table: a pinned latency table;
        # runtime 'onnxruntime': layers timed in onnxruntime on the CPU (detnas[deploy])
    )

The generator seed of the evolution is ``--seed``, never a config key.
"""
import copy
import math
from dataclasses import dataclass, field, fields
from typing import Any, Dict, Optional, Tuple

import torch

from detnas.utils.errors import DetnasInputError
from ..evolution import EvolutionConfig
from .cost import COST_METRICS

SCORE_METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_s')
METRICS = SCORE_METRICS + COST_METRICS


def _int(value, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DetnasInputError(f'{where} must be an integer >= {minimum}, got {value!r}')
    return value


@dataclass(frozen=True)
class SupernetSettings:
    """``search.supernet``: sandwich training of the supernet.

    Args:
        max_epochs: supernet epochs.
        num_random: random sub-nets per iteration (besides the largest and the smallest).
        param_scheduler: its LR schedule (None: the seed's, cut to ``max_epochs``).
        distill_weight: in-place distillation of the smaller sub-nets from the largest one's
            neck features (0: off; see :mod:`detnas.engine.loops.sandwich_loop`).
    """
    max_epochs: int = 4
    num_random: int = 2
    param_scheduler: Optional[list] = None
    distill_weight: float = 0.0

    def __post_init__(self):
        _int(self.max_epochs, 'search.supernet.max_epochs')
        _int(self.num_random, 'search.supernet.num_random', 0)
        w = self.distill_weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
            raise DetnasInputError(f'search.supernet.distill_weight must be a number >= 0, '
                                   f'got {w!r}')


@dataclass(frozen=True)
class BNSettings:
    """``search.bn_calibration``: training batches that re-estimate a candidate's BN stats.

    Args:
        num_batches: batches forwarded.
        batch_size: images per batch.
    """
    num_batches: int = 4
    batch_size: int = 8

    def __post_init__(self):
        _int(self.num_batches, 'search.bn_calibration.num_batches')
        _int(self.batch_size, 'search.bn_calibration.batch_size')


@dataclass(frozen=True)
class LatencySettings:
    """``search.latency``: the per-layer latency table and its check.

    Args:
        device: where layers are timed (None: ``'cuda'`` when available, else ``'cpu'``).
        threads: CPU threads while timing (None: torch's current number).
        warmup: untimed runs per layer.
        repeats: timed runs per layer.
        num_check_archs: whole backbones the predictor is checked on.
        table: a latency table file to use and extend (default: ``latency_table.json`` in
            the search folder); a pinned table makes searches with one ``--seed``
            reproducible, since measured latencies feed the objectives.
        runtime: ``'torch'`` (eager) or ``'onnxruntime'`` (each layer exported to ONNX and
            timed in an onnxruntime CPU session: the runtime a model deployed with
            tools/deploy/export_onnx.py runs on).
    """
    device: Optional[str] = None
    threads: Optional[int] = None
    warmup: int = 3
    repeats: int = 10
    num_check_archs: int = 6
    table: Optional[str] = None
    runtime: str = 'torch'

    def __post_init__(self):
        from ..latency.measure import RUNTIMES
        if self.runtime not in RUNTIMES:
            raise DetnasInputError(f'search.latency.runtime {self.runtime!r}: choose one of '
                                   f'{RUNTIMES}')
        if self.runtime == 'onnxruntime':
            if self.device not in (None, 'cpu'):
                raise DetnasInputError(f'search.latency.device {self.device!r}: the '
                                       "onnxruntime runtime times on the CPU; set device='cpu'")
            object.__setattr__(self, 'device', 'cpu')
        _int(self.warmup, 'search.latency.warmup', 0)
        _int(self.repeats, 'search.latency.repeats')
        _int(self.num_check_archs, 'search.latency.num_check_archs', 2)
        if self.device is None:
            object.__setattr__(self, 'device', 'cuda' if torch.cuda.is_available() else 'cpu')


SECTIONS = dict(supernet=SupernetSettings, bn_calibration=BNSettings, latency=LatencySettings)


def _section(raw: dict, key: str, cls) -> Any:
    value = raw.get(key) or {}
    allowed = [f.name for f in fields(cls)]
    if not isinstance(value, dict):
        raise DetnasInputError(f'search.{key} must be a dict with keys {allowed}, got '
                               f'{value!r}')
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise DetnasInputError(f'search.{key}: unknown key(s) {unknown}; allowed: {allowed}')
    return cls(**copy.deepcopy(value))


@dataclass(frozen=True)
class SearchSettings:
    """Validated ``search`` settings (see the module docstring for the keys).

    Args:
        space: the search space config (``dict(stages=[...])``).
        heldout_fraction: share of the training images held out to score candidates.
        tie_se: the choice rule's tie width in paired half-sample standard errors: among
            the front members whose held-out AP lies this close to the best, the one that
            spends most of the budget is chosen (0: the best-scoring member).
        supernet: :class:`SupernetSettings`.
        evolution: :class:`~detnas.nas.evolution.EvolutionConfig` fields (its defaults).
        objectives: minimised metric keys; ``'-'`` maximises.
        constraints: ``'KEY<=NUMBER'`` / ``'KEY>=seed'`` texts on the cost metrics.
        image_size: (height, width) of FLOPs and latency.
        bn_calibration: :class:`BNSettings`.
        eval_batch_size: images per held-out inference batch.
        latency: :class:`LatencySettings`.
    """
    space: dict
    heldout_fraction: float = 0.2
    tie_se: float = 1.0
    supernet: SupernetSettings = field(default_factory=SupernetSettings)
    evolution: Dict[str, Any] = field(default_factory=dict)
    objectives: Tuple[str, ...] = ('-bbox_mAP', 'flops', 'params', 'latency_ms')
    constraints: Tuple[str, ...] = ('flops<=seed', )
    image_size: Tuple[int, int] = (320, 320)
    bn_calibration: BNSettings = field(default_factory=BNSettings)
    eval_batch_size: int = 8
    latency: LatencySettings = field(default_factory=LatencySettings)

    def __post_init__(self):
        f = self.heldout_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
            raise DetnasInputError(f'search.heldout_fraction must be in (0, 1), got {f!r}')
        t = self.tie_se
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < math.inf:
            raise DetnasInputError(f'search.tie_se must be a number >= 0 (standard errors; '
                                   f'0 turns the tie rule off), got {t!r}')
        for key in self.objectives:
            if not isinstance(key, str) or key.lstrip('-') not in METRICS:
                raise DetnasInputError(f'search.objectives: {key!r} is not a metric; choose '
                                       f'from {list(METRICS)} (prefix "-" to maximise)')
        if not any(k.lstrip('-') in SCORE_METRICS for k in self.objectives):
            raise DetnasInputError('search.objectives must include an accuracy objective such '
                                   "as '-bbox_mAP'")
        size = self.image_size
        if not isinstance(size, (list, tuple)) or len(size) != 2:
            raise DetnasInputError(f'search.image_size must be (height, width), got {size!r}')
        object.__setattr__(self, 'image_size', (_int(size[0], 'search.image_size[0]', 32),
                                                _int(size[1], 'search.image_size[1]', 32)))
        _int(self.eval_batch_size, 'search.eval_batch_size')
        try:
            EvolutionConfig(**self.evolution)
        except TypeError as e:
            raise DetnasInputError(f'search.evolution: {e}; allowed: '
                                   f'{[f.name for f in fields(EvolutionConfig)]}') from None

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
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise DetnasInputError(f'search: unknown key(s) {unknown}; allowed: {allowed}')
        if 'space' not in raw:
            raise DetnasInputError('search.space is missing: give dict(stages=[...]), one dict '
                                   'per seed stage (see configs/search/README.md)')
        evolution = raw.get('evolution') or {}
        if not isinstance(evolution, dict) or 'seed' in evolution:
            raise DetnasInputError(f'search.evolution must be a dict of EvolutionConfig fields '
                                   f'other than seed (that is --seed), got {evolution!r}')
        constraints = raw.get('constraints', cls.constraints)
        if isinstance(constraints, str) or not isinstance(constraints, (list, tuple)):
            raise DetnasInputError(f'search.constraints must be a list of strings such as '
                                   f"'flops<=seed', got {constraints!r}")
        size = raw.get('image_size', cls.image_size)
        kwargs = {k: copy.deepcopy(v) for k, v in raw.items() if k not in SECTIONS}
        kwargs.update({k: _section(raw, k, c) for k, c in SECTIONS.items()},
                      evolution=dict(evolution), constraints=tuple(constraints),
                      objectives=tuple(raw.get('objectives', cls.objectives)),
                      image_size=(size, size) if isinstance(size, int) else size)
        return cls(**kwargs)

    @classmethod
    def config_keys(cls) -> dict:
        """``{'search': {key: None or {sub-key: None}}}``: every key of the section (the
        sections nested), which a ``--cfg-options`` override may set although a config
        leaves it at its default."""
        def values(klass):
            return {f.name: (values(SECTIONS[f.name]) if f.name in SECTIONS else
                             {f2.name: None for f2 in fields(EvolutionConfig)}
                             if f.name == 'evolution' else None) for f in fields(klass)}
        return dict(search=values(cls))

    def evolution_config(self, seed: int) -> EvolutionConfig:
        """The NSGA-II settings with the run's seed."""
        return EvolutionConfig(seed=seed, **self.evolution)
