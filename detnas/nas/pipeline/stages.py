"""``tools/search.py`` end to end: a plan resolved once, then five visible stages.

:func:`run_search` takes a :class:`~.plan.SearchPlan` (the config read and validated once,
by ``SearchPlan.from_config``) and runs :data:`STAGES` in order on one :class:`SearchRun`
(outputs under ``<work_dir>/search/``):

1. **split** (:mod:`.split`): ``split/search_train.json`` (supernet training, BN
   calibration) and ``split/heldout.json`` (candidate scores) from the training
   annotations. The val split is never read.
2. **latency_table** (``latency_table.json``): every layer signature of the space measured
   once on this device by rank 0 and shared with the other ranks; then the cost model and
   the constraints, checked for reachability before anything trains.
3. **supernet** (``supernet/``): the supernet detector trained in mmengine's Runner with
   :class:`~detnas.engine.loops.SandwichTrainLoop` (checkpoint every epoch; ``--resume``
   continues; a finished supernet is not retrained).
4. **evolution** (:class:`~detnas.nas.evolution.EvolutionSearch`, state in
   ``search_state.json``): cost metrics for constraints, held-out AP after BN recalibration
   as the expensive evaluation, spread over ranks; the seed arch is in the initial
   population; one log line per generation.
5. **export** (rank 0): ``pareto.json/csv/png``; the chosen arch (:func:`choose`) as
   ``chosen.py`` / ``chosen.pth`` / ``chosen.yaml``; the seed arch with the supernet's
   weights as ``seed_arch.*`` (a control: fine-tuned beside the chosen one, it tells the
   architecture's gain from the supernet training's); ``latency_check.json`` (Spearman of
   predicted vs measured whole-backbone latency); ``search_summary.json``.
"""
import logging
import math
import os
import os.path as osp
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.logging import MMLogger, print_log

from detnas.datasets.batches import load_batches
from detnas.utils.errors import DetnasInputError
from detnas.utils.io import atomic_write_json
from ..evolution import (Constraint, EvolutionSearch, Genome, ScoredCandidate, SearchResult,
                         evaluate_on_ranks, write_pareto)
from ..latency import LatencyTable, check_predictor
from ..space import Arch, StagedSearchSpace
from .cost import COST_METRICS, CandidateCost, latency_cases
from .export import ExportResult, export_subnet, load_supernet
from .plan import SearchPlan
from .scoring import HeldoutEvaluator
from .split import HeldoutSplit, split_train_annotations

LOGGER_NAME = 'detnas_search'
CHOICE_RULE = ('the highest held-out bbox_mAP (unrounded) among feasible front members (ties: '
               'AP50, then AP_s, then fewer FLOPs); under a budget constraint, the member that '
               'spends most of the budget among those the held-out split cannot tell from it '
               '(paired difference within search.tie_se half-sample standard errors)')


def log(message: str, level: int = logging.INFO) -> None:
    """Logs on rank 0 through the ``detnas_search`` MMLogger (``tools/search.py`` creates it,
    writing ``search/search.log``), else the current one."""
    if get_dist_info()[0] == 0:
        print_log(message, logger=LOGGER_NAME if MMLogger.check_instance_created(LOGGER_NAME)
                  else 'current', level=level)


# ---------------------------------------------------------------- constraints and choice
def parse_constraints(texts: List[str], seed_cost: Dict[str, float]) -> List[Constraint]:
    """``'flops<=seed'`` / ``'latency_ms<=0.75*seed'`` style texts -> constraints (``seed``:
    the seed arch's value, optionally times a factor).

    Raises:
        DetnasInputError: a text does not parse or names a metric the cost has not.
    """
    out = []
    for text in texts:
        if not isinstance(text, str):
            raise DetnasInputError(f'search.constraints: {text!r} is not a string such as '
                                   "'flops<=seed'")
        m = re.fullmatch(r'\s*([\w.]+)\s*(<=|>=)\s*(?:([0-9.eE+-]+)\s*\*\s*)?seed\s*', text)
        if m:
            key, factor = m.group(1), m.group(3)
            if key not in seed_cost:
                raise DetnasInputError(f'search.constraints: {text!r}: {key!r} is not one of '
                                       f'{list(COST_METRICS)}')
            try:
                limit = seed_cost[key] * (float(factor) if factor else 1.0)
            except ValueError:
                raise DetnasInputError(f'search.constraints: {text!r}: {factor!r} is not a '
                                       'number') from None
            text = f'{key}{m.group(2)}{limit!r}'
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


def choose(front: List[ScoredCandidate],
           tied: Optional[Callable[[ScoredCandidate, ScoredCandidate], bool]] = None,
           spend: Optional[str] = None) -> ScoredCandidate:
    """The chosen front member (:data:`CHOICE_RULE`; last tie-break: the smaller encoding).

    Stand-alone AP rises with the budget a candidate spends (bench/results/search_ranking:
    FLOPs alone rank the fine-tuned archs better than the proxy does), so where the held-out
    score cannot separate the best member from a costlier one that still meets the budget,
    the costlier one is the better bet.

    Args:
        front: the search's Pareto front.
        tied: ``tied(best, other)``: whether the held-out split cannot tell ``other`` from
            the best-scoring member (None: the best-scoring member is chosen).
        spend: the budget's metric (e.g. ``'flops'``); members costlier than the best are
            tried in decreasing ``spend`` and the first tied one is chosen.
    """
    feasible = [r for r in front if r.feasible] or list(front)
    best = min(feasible, key=lambda r: (-r.metrics['bbox_mAP'],
                                        -r.metrics.get('bbox_mAP_50', 0.0),
                                        -r.metrics.get('bbox_mAP_s', 0.0),
                                        r.metrics.get('flops', 0), tuple(r.candidate)))
    if tied is None or spend is None:
        return best
    costlier = sorted((r for r in feasible if r.metrics[spend] > best.metrics[spend]),
                      key=lambda r: (-r.metrics[spend], tuple(r.candidate)))
    return next((r for r in costlier if tied(best, r)), best)


def budget_metric(constraints: List[Constraint]) -> Optional[str]:
    """The metric of the first upper-bound constraint (the budget to spend), or None."""
    return next((c.key for c in constraints if c.op == '<='), None)


class HeldoutComparison:
    """Paired comparisons of archs on the held-out images: AP differences with their
    half-sample standard error (the same image halves for both archs), each arch's full and
    half-sample APs computed once.

    Args:
        evaluator: the search's held-out evaluator.
        decode: ``candidate -> arch``.
    """

    def __init__(self, evaluator: HeldoutEvaluator, decode: Callable[[Tuple], Arch]):
        self.evaluator, self.decode = evaluator, decode
        self._aps = {}

    def _full_and_half_aps(self, candidate: Tuple):
        key = tuple(candidate)
        if key not in self._aps:
            scorer = self.evaluator.scorer
            ev = scorer.evaluate(self.evaluator.detections(self.decode(key)))
            self._aps[key] = scorer.stats(ev)[0], scorer.half_aps(ev)
        return self._aps[key]

    def difference(self, candidate: Tuple, reference: Tuple) -> dict:
        """Held-out AP of ``candidate`` minus that of ``reference`` (encodings) and the
        half-sample standard error of the difference."""
        (full, halves), (ref_full, ref_halves) = (self._full_and_half_aps(c)
                                                  for c in (candidate, reference))
        diffs = halves - ref_halves
        return dict(difference=float(full - ref_full), se=float(diffs.std(ddof=1)),
                    halves=len(diffs))

    def tied(self, num_se: float,
             spend: str = 'flops') -> Callable[[ScoredCandidate, ScoredCandidate], bool]:
        """``tied(best, other)``: the best's lead over ``other`` is at most ``num_se``
        standard errors (logged with ``other``'s ``spend`` metric, for the choice's record).

        Args:
            num_se: the lead, in standard errors, up to which the two are tied.
            spend: the budget's metric, named in the log line.
        """
        def tied(best: ScoredCandidate, other: ScoredCandidate) -> bool:
            d = self.difference(best.candidate, other.candidate)
            verdict = d['difference'] <= num_se * d['se']
            value = other.metrics.get(spend, 0)
            cost = f'{value / 1e6:.1f} MFLOPs' if spend == 'flops' else f'{spend} {value:g}'
            log(f'search: choice: best held-out bbox_mAP leads the member at '
                f'{cost} by {d["difference"]:+.4f} '
                f'(standard error {d["se"]:.4f}): {"tied" if verdict else "not tied"}')
            return verdict

        return tied


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


# ---------------------------------------------------------------- the run
@dataclass
class SearchRun:
    """What the stages hand on to each other (filled in stage by stage).

    Args:
        plan: the resolved search.
        rank: this process's rank.
        timings: seconds per stage (``<stage>_s``).
    """
    plan: SearchPlan
    rank: int = 0
    timings: Dict[str, float] = field(default_factory=dict)
    split: Optional[HeldoutSplit] = None
    table: Optional[LatencyTable] = None
    cost: Optional[CandidateCost] = None
    constraints: List[Constraint] = field(default_factory=list)
    evaluator: Optional[HeldoutEvaluator] = None
    comparison: Optional[HeldoutComparison] = None
    search: Optional[EvolutionSearch] = None
    result: Optional[SearchResult] = None
    best_scored: Optional[ScoredCandidate] = None
    chosen: Optional[ScoredCandidate] = None
    seed_record: Optional[ScoredCandidate] = None
    export: Optional[ExportResult] = None
    seed_export: Optional[ExportResult] = None
    versus_seed: Optional[dict] = None

    @property
    def space(self) -> StagedSearchSpace:
        return self.plan.family.space

    def decode(self, candidate) -> Arch:
        """An encoding as an arch."""
        return self.space.decode(list(candidate))


def split_stage(run: SearchRun) -> None:
    """Holds out part of the training images (rank 0 writes the files)."""
    plan = run.plan
    run.split = split_train_annotations(plan.train_ann_file, osp.join(plan.search_dir, 'split'),
                                        plan.settings.heldout_fraction, plan.seed,
                                        write=run.rank == 0)
    barrier()
    split = run.split
    log(f'search: held-out split of {len(split.train_ids) + len(split.heldout_ids)} training '
        f'images: {len(split.train_ids)} train the supernet, {len(split.heldout_ids)} score '
        f'candidates ({split.heldout_ann_file})')


def latency_stage(run: SearchRun) -> None:
    """The latency table (loaded, missing signatures measured on rank 0 and shared), the
    cost model and the constraints, checked before any training."""
    plan, lat = run.plan, run.plan.settings.latency
    path = lat.table or osp.join(plan.search_dir, 'latency_table.json')
    kwargs = dict(factory=plan.family.latency_layer, device=lat.device, threads=lat.threads,
                  warmup=lat.warmup, repeats=lat.repeats, runtime=lat.runtime)
    table = LatencyTable.load(path, **kwargs) if osp.isfile(path) else LatencyTable(**kwargs)
    measured = 0
    if run.rank == 0:
        measured = table.measure(plan.family.space_signatures(plan.settings.image_size))
        if measured:
            table.save(path)
    shared = [table.entries]
    broadcast_object_list(shared, src=0)
    table.entries = dict(shared[0])
    log(f'search: latency table [{table.key}]: {len(table)} layer signatures ({measured} '
        'measured now)')
    run.table = table
    run.cost = CandidateCost(plan.family, plan.settings.image_size, table)
    run.constraints = parse_constraints(plan.settings.constraints,
                                        run.cost(run.space.seed_arch()))
    check_constraints_reachable(run.constraints, run.space, run.cost)


def _check_checkpoint(path: str) -> None:
    try:
        torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:  # any unreadable file is a corrupt resume file
        raise DetnasInputError(f'resume: supernet checkpoint {path} cannot be read ({e!r}); '
                               'delete it (and supernet/last_checkpoint) to retrain from the '
                               'previous one, or start without --resume') from None


def supernet_stage(run: SearchRun) -> None:
    """Trains the supernet with the sandwich rule (a finished one is not retrained)."""
    from mmengine.runner import Runner
    plan = run.plan
    final = plan.supernet_checkpoint
    if plan.resume and osp.isfile(final):
        _check_checkpoint(final)
        log(f'search: supernet already trained ({final}); not retraining')
        return
    train_cfg = plan.supernet_train_cfg(run.split.train_ann_file)
    last = osp.join(plan.supernet_dir, 'last_checkpoint')
    if plan.resume and osp.isfile(last):
        with open(last) as f:
            path = f.read().strip()
        if osp.isfile(path):
            _check_checkpoint(path)
    runner = Runner.from_cfg(train_cfg)
    runner.train()
    del runner
    barrier()
    if not osp.isfile(final):
        raise RuntimeError(f'supernet training finished without writing {final}')


def _eval_model(cfg: Config, checkpoint: str) -> torch.nn.Module:
    model = load_supernet(cfg, checkpoint)
    if torch.cuda.is_available():  # the current device (torchrun: this rank's)
        model = model.cuda()
    return model.to(memory_format=torch.channels_last)


def generation_logger(total: int) -> Callable[[EvolutionSearch, int], None]:
    """An ``on_generation`` callback logging one line per generation: the candidate the
    choice rule would pick now, the front size, the count scored, and an ETA."""
    start = time.perf_counter()

    def on_generation(search: EvolutionSearch, generation: int) -> None:
        result = search.result()
        best = choose(result.front).metrics if result.front else {}
        done = generation + 1
        eta = (time.perf_counter() - start) / done * (total + 1 - done)
        log(f'search: generation {generation}/{total} done: best held-out bbox_mAP '
            f'{best.get("bbox_mAP", 0.0):.4f} at {best.get("flops", 0) / 1e6:.1f} MFLOPs, '
            f'front size {len(result.front)}, {len(search.records)} candidates scored, ETA '
            f'{eta:.0f} s')

    return on_generation


def evolve_stage(run: SearchRun) -> None:
    """NSGA-II over the genes; AP on the held-out split after BN recalibration."""
    plan, settings, space = run.plan, run.plan.settings, run.space
    model = _eval_model(plan.supernet_cfg, plan.supernet_checkpoint)
    bn = settings.bn_calibration
    calib, _ = load_batches(plan.split_dataset_cfg(run.split.train_ann_file), bn.batch_size,
                            bn.num_batches * bn.batch_size, plan.seed)
    heldout, meta = load_batches(plan.split_dataset_cfg(run.split.heldout_ann_file),
                                 settings.eval_batch_size)
    run.evaluator = HeldoutEvaluator(model, calib, heldout, run.split.heldout_ann_file, meta)

    def evaluate(candidates):
        return evaluate_on_ranks(lambda local: [run.evaluator(run.decode(c)) for c in local],
                                 candidates)

    genome = Genome(space.gene_choices, space.gene_names,
                    canonicalize=lambda c: tuple(space.encode(space.decode(list(c)))))
    evo_cfg = settings.evolution_config(plan.seed)
    seed_genes = space.encode(space.seed_arch())
    run.search = EvolutionSearch(
        genome, evaluate, settings.objectives, plan.search_dir, constraints=run.constraints,
        cost_fn=lambda c: run.cost(run.decode(c)), config=evo_cfg, initial=[seed_genes],
        is_writer=run.rank == 0, on_generation=generation_logger(evo_cfg.generations),
        logger=LOGGER_NAME if MMLogger.check_instance_created(LOGGER_NAME) else 'current')
    log(f'search: NSGA-II, population {evo_cfg.population_size}, {evo_cfg.generations} '
        f'generations, objectives {list(settings.objectives)}, constraints '
        f'{[c.describe() for c in run.constraints]}')
    run.result = run.search.run(resume=plan.resume)
    run.seed_record = run.search.records[genome.canonical(seed_genes)]
    run.comparison = HeldoutComparison(run.evaluator, run.decode)
    spend = budget_metric(run.constraints) if settings.tie_se > 0 else None
    run.best_scored = choose(run.result.front)
    chosen = [choose(run.result.front, run.comparison.tied(settings.tie_se, spend or 'flops'),
                     spend)
              if run.rank == 0 else None]
    broadcast_object_list(chosen, src=0)  # the paired tie tests run on rank 0 only
    run.chosen = chosen[0]
    if not any(r.metrics.get('bbox_mAP') for r in run.search.records.values()):
        log('search: WARNING every candidate, the seed included, scored held-out bbox_mAP 0: '
            'the supernet is under-trained, so the choice only reflects the cost objectives; '
            'raise search.supernet.max_epochs (or use more training images)',
            level=logging.WARNING)


def export_stage(run: SearchRun) -> None:
    """Pareto files, the chosen and the seed arch exported, the latency predictor check
    (rank 0 writes; the other ranks wait)."""
    if run.rank == 0:
        plan, space = run.plan, run.space
        run.versus_seed = run.comparison.difference(run.chosen.candidate,
                                                    run.seed_record.candidate)
        diff, se = run.versus_seed['difference'], run.versus_seed['se']
        log(f'search: chosen vs seed on the held-out split: bbox_mAP {diff:+.4f} '
            f'(half-sample standard error {se:.4f})')
        if abs(diff) < 2 * se:
            log('search: WARNING the held-out split does not tell the chosen arch from the '
                f'seed (|difference| {abs(diff):.4f} < 2 standard errors {2 * se:.4f}); '
                'hold out more images (search.heldout_fraction) or train the supernet longer',
                level=logging.WARNING)
        write_pareto(plan.search_dir, run.result.front, run.result.records,
                     x_keys=('flops', 'latency_ms'), y_key='bbox_mAP',
                     reference=run.seed_record.metrics, reference_label='seed',
                     chosen=run.chosen, describe=run.decode,
                     title='held-out AP of the searched backbones (after BN recalibration)')
        exported = {}
        for name, arch in (('chosen', run.decode(run.chosen.candidate)),
                           ('seed_arch', space.seed_arch())):
            run.evaluator.calibrate(arch)
            exported[name] = export_subnet(plan.supernet_cfg, arch, plan.search_dir,
                                           model=run.evaluator.model, name=name)
        run.export, run.seed_export = exported['chosen'], exported['seed_arch']
        archs = check_archs(space, run.decode(run.chosen.candidate),
                            plan.settings.latency.num_check_archs, plan.seed)
        check = check_predictor(run.table, latency_cases(plan.family, archs,
                                                         plan.settings.image_size))
        check['spearman'] = _finite(check['spearman'])
        check['image_size'] = list(plan.settings.image_size)
        atomic_write_json(osp.join(plan.search_dir, 'latency_check.json'), check)
        log(f'search: latency predictor vs measured whole backbone on {len(archs)} archs: '
            f'Spearman {check["spearman"]}')
    barrier()


STAGES: Tuple[Tuple[str, Callable[[SearchRun], None]], ...] = (
    ('split', split_stage), ('latency_table', latency_stage), ('supernet', supernet_stage),
    ('evolution', evolve_stage), ('export', export_stage))


@dataclass
class SearchOutputs:
    """What a search wrote (paths) and its headline numbers.

    Args:
        search_dir: the output folder.
        chosen_arch: the chosen arch.
        chosen_metrics: its metrics.
        seed_metrics: the seed arch's metrics.
        export: the ``export_subnet`` result (rank 0; None elsewhere).
        timings: seconds per stage.
    """
    search_dir: str
    chosen_arch: Arch
    chosen_metrics: Dict[str, float]
    seed_metrics: Dict[str, float]
    export: Any
    timings: Dict[str, float]


def write_summary(run: SearchRun) -> None:
    """``search_summary.json``: the chosen and seed archs with their metrics, the history,
    the exported files and the stage timings."""
    chosen_arch = run.decode(run.chosen.candidate)
    summary = dict(
        seed=run.plan.seed,
        chosen=dict(arch=chosen_arch, metrics=run.chosen.metrics,
                    candidate=list(run.chosen.candidate)),
        seed_arch=dict(arch=run.space.seed_arch(), metrics=run.seed_record.metrics),
        front_size=len(run.result.front), num_scored=len(run.result.records),
        generations=len(run.result.history) - 1, history=run.result.history,
        choice_rule=CHOICE_RULE, tie_se=run.plan.settings.tie_se,
        best_scored=dict(candidate=list(run.best_scored.candidate),
                         metrics=run.best_scored.metrics),
        chosen_vs_seed=run.versus_seed,
        exported=dict(config=run.export.config, checkpoint=run.export.checkpoint,
                      arch_yaml=run.export.arch_yaml),
        exported_seed_arch=dict(config=run.seed_export.config,
                                checkpoint=run.seed_export.checkpoint,
                                arch_yaml=run.seed_export.arch_yaml),
        timings=run.timings)
    atomic_write_json(osp.join(run.plan.search_dir, 'search_summary.json'), summary)
    log(f'search: chosen arch: held-out bbox_mAP {run.chosen.metrics["bbox_mAP"]:.4f} '
        f'(seed {run.seed_record.metrics["bbox_mAP"]:.4f}), flops '
        f'{run.chosen.metrics["flops"]:g} (seed {run.seed_record.metrics["flops"]:g}); '
        f'fine-tune it with: python tools/train.py {run.export.config}')


def run_search(plan: SearchPlan) -> SearchOutputs:
    """Runs the whole search (see the module docstring).

    Args:
        plan: the search, read from its config by :meth:`SearchPlan.from_config` (which
            raises on bad settings, a space the seed does not fit or an unknown op). On
            more than one rank the process group must be initialised by the caller.

    Raises:
        DetnasInputError: unreachable constraints, or a corrupt resume file.
    """
    start = time.perf_counter()
    run = SearchRun(plan, rank=get_dist_info()[0])
    os.makedirs(run.plan.search_dir, exist_ok=True)
    for name, stage in STAGES:
        t0 = time.perf_counter()
        stage(run)
        run.timings[f'{name}_s'] = time.perf_counter() - t0
    run.timings['total_s'] = time.perf_counter() - start
    if run.rank == 0:
        write_summary(run)
    barrier()
    return SearchOutputs(run.plan.search_dir, run.decode(run.chosen.candidate),
                         dict(run.chosen.metrics), dict(run.seed_record.metrics), run.export,
                         run.timings)
