"""``tools/search.py`` end to end: held-out split, supernet, latency table, NSGA-II, export.

Steps (outputs under ``<work_dir>/search/``):

1. **Held-out split** of the training annotations (:mod:`.heldout_split`):
   ``split/search_train.json`` (supernet training, BN calibration) and ``split/heldout.json``
   (candidate scores). The val split is never read.
2. **Supernet** (``supernet/``): the seed detector turned into a supernet
   (:func:`.supernet_config.build_supernet_config`), trained in mmengine's Runner with
   :class:`~detnas.engine.loops.SandwichTrainLoop` (checkpoint every epoch; ``--resume``
   continues; a finished supernet is not retrained).
3. **Latency table** (``latency_table.json``): every layer signature of the space measured
   once on this device by rank 0 and shared with the other ranks.
4. **NSGA-II** (:class:`~detnas.nas.evolution.EvolutionSearch`, state in
   ``search_state.json``): cost metrics (FLOPs, params, predicted latency) for constraints,
   held-out AP after BN recalibration as the expensive evaluation, spread over ranks; the
   seed arch is in the initial population.
5. **Outputs** (rank 0): ``pareto.json/csv/png``; the chosen arch -- the highest held-out
   ``bbox_mAP`` among the feasible front members (ties: fewer FLOPs) -- exported as
   ``chosen.py`` / ``chosen.pth`` / ``chosen.yaml``; the seed arch with the supernet's
   weights as ``seed_arch.py`` / ``.pth`` / ``.yaml`` (a control: fine-tuned beside the
   chosen one, it tells the architecture's gain from the supernet training's);
   ``latency_check.json`` (Spearman of predicted vs measured whole-backbone latency);
   ``search_summary.json``.
"""
import copy
import logging
import math
import os
import os.path as osp
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

import torch
from mmengine.config import Config
from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.logging import MMLogger, print_log

from detnas.utils.errors import DetnasInputError
from detnas.utils.io import atomic_write_json
from .candidate_cost import (CandidateCost, latency_cases, layer_factory, missing_signatures,
                             space_signatures)
from .evolution import (Constraint, EvolutionConfig, EvolutionSearch, Genome,
                        evaluate_on_ranks, write_pareto)
from .export import space_of
from .heldout_split import HeldoutSplit, split_train_annotations
from .latency import LatencyTable, check_predictor
from .search_settings import SearchSettings
from .space import Arch, StagedSearchSpace
from .supernet_config import build_supernet_config

COST_METRICS = ('flops', 'params', 'latency_ms')
LOGGER_NAME = 'detnas_search'


def log(message: str, level: int = logging.INFO) -> None:
    """Logs on rank 0 through the ``detnas_search`` MMLogger (``tools/search.py`` creates it,
    writing ``search/search.log``), else the current one."""
    if get_dist_info()[0] == 0:
        print_log(message, logger=LOGGER_NAME if MMLogger.check_instance_created(LOGGER_NAME)
                  else 'current', level=level)


# ---------------------------------------------------------------- configs
def train_ann_path(cfg: Config) -> str:
    """The training annotation file of a detector config (``data_root`` joined).

    Raises:
        DetnasInputError: ``train_dataloader.dataset`` has no ``ann_file``.
    """
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    ann = dataset.get('ann_file') if isinstance(dataset, dict) else None
    if not ann:
        raise DetnasInputError('train_dataloader.dataset.ann_file is missing; the search needs '
                               'a COCO-style training set (dataset wrappers are not supported)')
    root = dataset.get('data_root') or ''
    return ann if osp.isabs(ann) else osp.join(root, ann)


def test_pipeline(cfg: Config) -> list:
    """The deterministic (test) pipeline of the config's val or test loader."""
    for key in ('val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader and loader.get('dataset', {}).get('pipeline'):
            return copy.deepcopy(loader['dataset']['pipeline'])
    raise DetnasInputError('the config has no val_dataloader.dataset.pipeline; the search '
                           'scores candidates through the test pipeline')


def split_dataset_cfg(cfg: Config, ann_file: str) -> dict:
    """The training dataset config on one split file, with the test pipeline."""
    dataset = copy.deepcopy(cfg.train_dataloader.dataset.to_dict())
    dataset.update(ann_file=ann_file, pipeline=test_pipeline(cfg), test_mode=True)
    dataset.pop('filter_cfg', None)
    return dataset


def heldout_metric_cfg(cfg: Config, ann_file: str) -> dict:
    """The config's ``CocoMetric`` (or a default one) on the held-out file."""
    metric = cfg.get('val_evaluator')
    metric = copy.deepcopy(metric.to_dict()) if isinstance(metric, dict) else {}
    if metric.get('type') != 'CocoMetric':
        metric = dict(type='CocoMetric', metric='bbox')
    metric.update(ann_file=ann_file, format_only=False, outfile_prefix=None)
    return metric


def supernet_schedulers(cfg: Config, settings: SearchSettings) -> list:
    """The supernet's LR schedule: ``search.supernet.param_scheduler`` or the seed's with
    epoch-based ends (and a cosine's ``T_max``) cut to the supernet's epochs."""
    if settings.supernet_param_scheduler is not None:
        return copy.deepcopy(settings.supernet_param_scheduler)
    epochs = settings.supernet_epochs
    schedulers = cfg.get('param_scheduler') or []
    schedulers = [schedulers] if isinstance(schedulers, dict) else list(schedulers)
    out = []
    for s in schedulers:
        s = copy.deepcopy(s.to_dict() if hasattr(s, 'to_dict') else dict(s))
        if s.get('by_epoch', True):
            if 'end' in s:
                s['end'] = min(s['end'], epochs)
            if 'T_max' in s:
                s['T_max'] = s.get('end', epochs) - s.get('begin', 0)
            if s.get('begin', 0) >= s.get('end', epochs + 1):
                continue
        out.append(s)
    return out


def supernet_train_config(supernet_cfg: Config, settings: SearchSettings, split: HeldoutSplit,
                          work_dir: str, seed: int, launcher: str, resume: bool) -> Config:
    """The Runner config that trains the supernet on the search-train split (no val)."""
    cfg = Config(copy.deepcopy(supernet_cfg.to_dict()))
    cfg.work_dir = work_dir
    cfg.launcher = launcher
    cfg.train_dataloader.dataset.ann_file = split.train_ann_file
    cfg.train_cfg = dict(type='SandwichTrainLoop', max_epochs=settings.supernet_epochs,
                         num_random=settings.num_random, seed=seed)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    cfg.param_scheduler = supernet_schedulers(supernet_cfg, settings)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, max_keep_ckpts=2,
                                        save_best=None)
    cfg.randomness = dict(seed=seed)
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                 find_unused_parameters=True)  # narrow sub-nets skip weights
    if not torch.cuda.is_available():  # CPU DDP takes no device_ids (see prepare_runtime)
        cfg.model_wrapper_cfg.update(device_ids=None, broadcast_buffers=False)
    cfg.resume, cfg.load_from = bool(resume), None
    return cfg


# ---------------------------------------------------------------- constraints
def parse_constraints(texts: List[str], seed_cost: Dict[str, float]) -> List[Constraint]:
    """``'flops<=seed'`` style texts -> constraints (``seed``: the seed arch's value).

    Raises:
        DetnasInputError: a text does not parse or names a metric the cost has not.
    """
    out = []
    for text in texts:
        if not isinstance(text, str):
            raise DetnasInputError(f'search.constraints: {text!r} is not a string such as '
                                   "'flops<=seed'")
        m = re.fullmatch(r'\s*([\w.]+)\s*(<=|>=)\s*seed\s*', text)
        if m:
            key = m.group(1)
            if key not in seed_cost:
                raise DetnasInputError(f'search.constraints: {text!r}: {key!r} is not one of '
                                       f'{list(COST_METRICS)}')
            text = f'{key}{m.group(2)}{seed_cost[key]!r}'
        constraint = Constraint.parse(text)
        if constraint.key not in COST_METRICS:
            raise DetnasInputError(f'search.constraints: {text!r}: constraints are checked '
                                   f'before evaluation, on {list(COST_METRICS)}; '
                                   f'{constraint.key!r} is not one of them')
        out.append(constraint)
    return out


def check_constraints_reachable(constraints: List[Constraint], space: StagedSearchSpace,
                                cost: CandidateCost) -> None:
    """Fails early (before any training) when no arch of the space can meet a constraint:
    an upper bound below the cheapest arch or a lower bound above the largest.

    Raises:
        DetnasInputError: naming the constraint and the best value the space reaches.
    """
    cheap, large = cost(space.cheapest()), cost(space.largest())
    for c in constraints:
        best = cheap if c.op == '<=' else large
        if c.violation(best) > 0:
            which = 'cheapest' if c.op == '<=' else 'largest'
            raise DetnasInputError(
                f'search.constraints: no candidate can meet {c.describe()}: the {which} '
                f'architecture of the space has {c.key} = {best[c.key]:g}. Loosen the '
                'constraint or widen the search space.')


# ---------------------------------------------------------------- search driver
class LoggedEvolutionSearch(EvolutionSearch):
    """:class:`EvolutionSearch` that also logs the Pareto front size after a generation."""

    def _log(self, message: str) -> None:
        if self.is_writer:
            log(message)

    def _finish_generation(self, generation: int) -> None:
        super()._finish_generation(generation)
        result = self.result()
        best_ap = max((r.metrics.get('bbox_mAP', 0.0) for r in result.front), default=0.0)
        self._log(f'search: generation {generation}/{self.config.generations} done: best '
                  f'held-out bbox_mAP {best_ap:.4f}, front size {len(result.front)}, '
                  f'{len(self.records)} candidates scored')


def choose(front) -> Any:
    """The chosen front member: highest ``bbox_mAP`` among feasible members (ties: fewer
    FLOPs, then the smaller encoding)."""
    feasible = [r for r in front if r.feasible] or list(front)
    return min(feasible, key=lambda r: (-r.metrics['bbox_mAP'], r.metrics.get('flops', 0),
                                        tuple(r.candidate)))


def check_archs(space: StagedSearchSpace, chosen: Arch, count: int, seed: int) -> Dict[str, Arch]:
    """``count`` distinct archs for the latency check: seed, chosen, largest, smallest, then
    random ones (``random.Random(seed)``); fewer only when the space has fewer."""
    named = [('seed', space.seed_arch()), ('chosen', chosen), ('largest', space.largest()),
             ('smallest', space.smallest())]
    rng = random.Random(seed)
    named += [(f'random{i}', space.sample(rng)) for i in range(20 * count)]
    out, seen = {}, set()
    for name, arch in named:
        key = space.fingerprint(arch)
        if key not in seen and len(out) < count:
            seen.add(key)
            out[name] = arch
    return out


def _finite(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass
class SearchOutputs:
    """What a search wrote (paths) and its headline numbers.

    Args:
        search_dir: the output folder.
        chosen_arch: the chosen arch.
        chosen_metrics: its metrics.
        seed_metrics: the seed arch's metrics.
        export: the ``export_subnet`` result (rank 0; None elsewhere).
        timings: seconds per phase.
    """
    search_dir: str
    chosen_arch: Arch
    chosen_metrics: Dict[str, float]
    seed_metrics: Dict[str, float]
    export: Any
    timings: Dict[str, float]


def _build_latency_table(space: StagedSearchSpace, backbone_cfg: dict, settings: SearchSettings,
                         path: str, rank: int) -> Tuple[LatencyTable, int]:
    """Loads ``path`` (if any), measures missing signatures on rank 0, shares the entries."""
    kwargs = dict(factory=layer_factory(backbone_cfg), device=settings.latency_device,
                  threads=settings.latency_threads, warmup=settings.latency_warmup,
                  repeats=settings.latency_repeats)
    table = LatencyTable.load(path, **kwargs) if osp.isfile(path) else LatencyTable(**kwargs)
    measured = 0
    if rank == 0:
        todo = missing_signatures(table, space_signatures(space, backbone_cfg,
                                                          settings.image_size))
        measured = table.measure(todo)
        if measured:
            table.save(path)
    shared = [table.entries]
    broadcast_object_list(shared, src=0)
    table.entries = dict(shared[0])
    return table, measured


def _load_eval_model(cfg: Config, checkpoint: str) -> torch.nn.Module:
    from mmdet.registry import MODELS
    from mmengine.runner import load_checkpoint
    model = MODELS.build(copy.deepcopy(cfg.model))
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    if torch.cuda.is_available():  # the current device (torchrun: this rank's)
        model = model.cuda()
    return model.to(memory_format=torch.channels_last)


def _check_checkpoint(path: str) -> None:
    try:
        torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:  # any unreadable file is a corrupt resume file
        raise DetnasInputError(f'resume: supernet checkpoint {path} cannot be read ({e!r}); '
                               'delete it (and supernet/last_checkpoint) to retrain from the '
                               'previous one, or start without --resume') from None


def _train_supernet(train_cfg: Config, resume: bool, final_ckpt: str) -> None:
    from mmengine.runner import Runner
    last = osp.join(train_cfg.work_dir, 'last_checkpoint')
    if resume and osp.isfile(last):
        with open(last) as f:
            path = f.read().strip()
        if osp.isfile(path):
            _check_checkpoint(path)
    runner = Runner.from_cfg(train_cfg)
    runner.train()
    del runner
    barrier()
    if not osp.isfile(final_ckpt):
        raise RuntimeError(f'supernet training finished without writing {final_ckpt}')


def run_search(cfg: Config, work_dir: str, seed: int = 0, resume: bool = False,
               launcher: str = 'none') -> SearchOutputs:
    """Runs the whole search (see the module docstring).

    Args:
        cfg: the search config: a seed detector config plus a ``search`` section.
        work_dir: ``work_dirs/<name>``; outputs go to ``<work_dir>/search``.
        seed: seed of the split, the sandwich sampling, the runner and the evolution.
        resume: continue supernet training and the evolution from their saved state.
        launcher: ``'none'`` or ``'pytorch'`` (torchrun; the process group must be
            initialised by the caller).

    Raises:
        DetnasInputError: bad settings, a space the seed does not fit, an unknown op,
            unreachable constraints, or a corrupt resume file.
    """
    t_start = time.perf_counter()
    timings: Dict[str, float] = {}
    rank, _ = get_dist_info()
    settings = SearchSettings.from_config(cfg)
    seed_cfg = Config(copy.deepcopy(cfg.to_dict()))
    seed_cfg.pop('search')
    seed_cfg.pop('work_dir', None)
    supernet_cfg = build_supernet_config(seed_cfg, settings.space)
    backbone_cfg = supernet_cfg.model.backbone.to_dict()
    space = space_of(backbone_cfg)
    search_dir = osp.join(work_dir, 'search')
    os.makedirs(search_dir, exist_ok=True)

    # 1. held-out split of the training annotations
    split = split_train_annotations(train_ann_path(cfg), osp.join(search_dir, 'split'),
                                    settings.heldout_fraction, seed, write=rank == 0)
    barrier()
    log(f'search: held-out split of {len(split.train_ids) + len(split.heldout_ids)} training '
        f'images: {len(split.train_ids)} train the supernet, {len(split.heldout_ids)} score '
        f'candidates ({split.heldout_ann_file})')

    # 2. latency table, cost metrics, constraints (before any training: fail early)
    t0 = time.perf_counter()
    table, measured = _build_latency_table(space, backbone_cfg, settings,
                                           osp.join(search_dir, 'latency_table.json'), rank)
    timings['latency_table_s'] = time.perf_counter() - t0
    log(f'search: latency table [{table.key}]: {len(table)} layer signatures '
        f'({measured} measured now, {timings["latency_table_s"]:.1f} s)')
    cost = CandidateCost(space, backbone_cfg, settings.image_size, table)
    seed_arch = space.seed_arch()
    seed_cost = cost(seed_arch)
    constraints = parse_constraints(settings.constraints, seed_cost)
    check_constraints_reachable(constraints, space, cost)

    # 3. supernet training (sandwich rule) inside the Runner
    supernet_dir = osp.join(search_dir, 'supernet')
    final_ckpt = osp.join(supernet_dir, f'epoch_{settings.supernet_epochs}.pth')
    t0 = time.perf_counter()
    if resume and osp.isfile(final_ckpt):
        _check_checkpoint(final_ckpt)
        log(f'search: supernet already trained ({final_ckpt}); not retraining')
    else:
        train_cfg = supernet_train_config(supernet_cfg, settings, split, supernet_dir, seed,
                                          launcher, resume)
        _train_supernet(train_cfg, resume, final_ckpt)
    timings['supernet_s'] = time.perf_counter() - t0

    # 4. NSGA-II over the genes; AP on the held-out split after BN recalibration
    from .candidate_eval import HeldoutEvaluator, load_batches
    t0 = time.perf_counter()
    model = _load_eval_model(supernet_cfg, final_ckpt)
    calib, _ = load_batches(split_dataset_cfg(cfg, split.train_ann_file),
                            settings.bn_batch_size, settings.bn_batches * settings.bn_batch_size,
                            seed)
    heldout, meta = load_batches(split_dataset_cfg(cfg, split.heldout_ann_file),
                                 settings.eval_batch_size)
    evaluator = HeldoutEvaluator(model, calib, heldout,
                                 heldout_metric_cfg(cfg, split.heldout_ann_file), meta)

    def decode(candidate) -> Arch:
        return space.decode(list(candidate))

    def evaluate(candidates):
        return evaluate_on_ranks(lambda local: [evaluator(decode(c)) for c in local],
                                 candidates)

    genome = Genome(space.gene_choices, space.gene_names,
                    canonicalize=lambda c: tuple(space.encode(space.decode(list(c)))))
    evo_cfg = EvolutionConfig(seed=seed, **settings.evolution)
    search = LoggedEvolutionSearch(genome, evaluate, settings.objectives, search_dir,
                                   constraints=constraints, cost_fn=lambda c: cost(decode(c)),
                                   config=evo_cfg, initial=[space.encode(seed_arch)],
                                   is_writer=rank == 0)
    log(f'search: NSGA-II, population {evo_cfg.population_size}, {evo_cfg.generations} '
        f'generations, objectives {settings.objectives}, constraints '
        f'{[c.describe() for c in constraints]}')
    result = search.run(resume=resume)
    timings['evolution_s'] = time.perf_counter() - t0

    seed_record = search.records[genome.canonical(space.encode(seed_arch))]
    chosen = choose(result.front)
    if not any(r.metrics.get('bbox_mAP') for r in search.records.values()):
        log('search: WARNING every candidate, the seed included, scored held-out bbox_mAP 0: '
            'the supernet is under-trained, so the choice only reflects the cost objectives; '
            'raise search.supernet.max_epochs (or use more training images)',
            level=logging.WARNING)
    chosen_arch = decode(chosen.candidate)
    outputs = SearchOutputs(search_dir, chosen_arch, dict(chosen.metrics),
                            dict(seed_record.metrics), None, timings)
    if rank == 0:
        outputs.export = _write_outputs(search_dir, supernet_cfg, space, settings, table,
                                        evaluator, result, chosen, seed_record, seed, timings,
                                        t_start)
    barrier()
    return outputs


def _write_outputs(search_dir, supernet_cfg, space, settings, table, evaluator, result,
                   chosen, seed_record, seed, timings, t_start):
    from .export import export_subnet
    decode = lambda c: space.decode(list(c))  # noqa: E731
    write_pareto(search_dir, result.front, result.records, x_key='flops', y_key='bbox_mAP',
                 reference=seed_record.metrics, reference_label='seed', chosen=chosen,
                 describe=decode, title='held-out bbox_mAP vs backbone FLOPs')
    chosen_arch = decode(chosen.candidate)
    evaluator.calibrate(chosen_arch)
    export = export_subnet(supernet_cfg, chosen_arch, search_dir, model=evaluator.model,
                           name='chosen')
    # the seed architecture with the supernet's weights: the control that separates what the
    # chosen architecture brings from what the supernet's detection training brings
    evaluator.calibrate(space.seed_arch())
    seed_export = export_subnet(supernet_cfg, space.seed_arch(), search_dir,
                                model=evaluator.model, name='seed_arch')
    backbone_cfg = supernet_cfg.model.backbone.to_dict()

    # latency predictor check on a handful of whole backbones
    unique = check_archs(space, chosen_arch, settings.num_check_archs, seed)
    check = check_predictor(table, latency_cases(backbone_cfg, unique, settings.image_size))
    check['spearman'] = _finite(check['spearman'])
    check['image_size'] = list(settings.image_size)
    atomic_write_json(osp.join(search_dir, 'latency_check.json'), check)
    log(f'search: latency predictor vs measured whole backbone on {len(unique)} archs: '
        f'Spearman {check["spearman"]}')

    timings['total_s'] = time.perf_counter() - t_start
    summary = dict(
        seed=seed, chosen=dict(arch=chosen_arch, metrics=chosen.metrics,
                               candidate=list(chosen.candidate)),
        seed_arch=dict(arch=space.seed_arch(), metrics=seed_record.metrics),
        front_size=len(result.front), num_scored=len(result.records),
        generations=len(result.history) - 1, history=result.history,
        choice_rule='highest held-out bbox_mAP among feasible front members; ties: fewer '
                    'FLOPs',
        exported=dict(config=export.config, checkpoint=export.checkpoint,
                      arch_yaml=export.arch_yaml),
        exported_seed_arch=dict(config=seed_export.config, checkpoint=seed_export.checkpoint,
                                arch_yaml=seed_export.arch_yaml),
        timings=timings)
    atomic_write_json(osp.join(search_dir, 'search_summary.json'), summary)
    log(f'search: chosen arch: held-out bbox_mAP {chosen.metrics["bbox_mAP"]:.4f} '
        f'(seed {seed_record.metrics["bbox_mAP"]:.4f}), flops {chosen.metrics["flops"]:g} '
        f'(seed {seed_record.metrics["flops"]:g}); fine-tune it with: python tools/train.py '
        f'{export.config}')
    return export
