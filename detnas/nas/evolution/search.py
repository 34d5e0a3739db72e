"""The NSGA-II search driver: generations, cache of scored candidates, constraints, resume.

The driver knows nothing about networks. It is given a :class:`Genome` (the encoding), a
cheap ``cost_fn(candidate) -> metrics`` (FLOPs, params, predicted latency: computed on every
rank, used to check constraints before anything expensive runs) and an expensive
``evaluate(candidates) -> [metrics]`` (e.g. AP after BN recalibration; wrap it with
:func:`evaluate_on_ranks` to spread it over torchrun ranks). Objectives are metric keys,
all minimised; a key written ``'-bbox_mAP'`` is maximised (its negation is minimised).

A run is a function of its settings and seed: every random draw goes through one
``random.Random(seed)``, and the state is saved atomically after every generation so
``run(resume=True)`` after a kill finishes exactly as an uninterrupted run would.
"""
import math
import numbers
import os.path as osp
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from mmengine.logging import print_log

from detnas.utils.errors import DetnasInputError
from .constraints import Constraint, total_violation
from .distributed import rank_and_world_size
from .genome import Candidate, Genome
from .nsga2 import (binary_tournament, environmental_selection, non_dominated_sort,
                    rank_and_crowding)
from .state import STATE_FILENAME, SearchState, decode_rng, encode_rng

Metrics = Dict[str, float]


def _plain(value: Any) -> Any:
    """Numbers as built-in int/float (numpy scalars would not survive JSON)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        return value
    return int(value) if isinstance(value, numbers.Integral) else float(value)


@dataclass
class ScoredCandidate:
    """One evaluated candidate.

    Args:
        candidate: its encoding.
        metrics: cost metrics and evaluation metrics together.
        violation: total constraint violation (0: feasible).
        generation: the generation in which it was first scored.
    """
    candidate: Candidate
    metrics: Metrics
    violation: float
    generation: int

    @property
    def feasible(self) -> bool:
        """Whether every constraint holds."""
        return self.violation <= 0

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly form (the candidate as a list)."""
        return dict(candidate=list(self.candidate), metrics=dict(self.metrics),
                    violation=self.violation, generation=self.generation)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> 'ScoredCandidate':
        """Inverse of :meth:`to_dict`.

        Args:
            data: a dict written by :meth:`to_dict`.
        """
        return cls(tuple(data['candidate']), dict(data['metrics']), float(data['violation']),
                   int(data['generation']))


@dataclass
class EvolutionConfig:
    """NSGA-II settings.

    Args:
        population_size: candidates kept per generation (and offspring made per generation).
        generations: generations after the initial population.
        seed: seed of the run's only random generator.
        mutation_prob: per-gene mutation probability (default ``1 / number of genes``).
        crossover_prob: probability that a child comes from uniform crossover of two parents
            rather than a copy of one (it is mutated either way).
        init_retries: the initial population samples up to
            ``init_retries * population_size`` candidates looking for feasible ones.
        offspring_retries: tries per child to find one that is new and feasible.
    """
    population_size: int = 16
    generations: int = 10
    seed: int = 0
    mutation_prob: Optional[float] = None
    crossover_prob: float = 0.9
    init_retries: int = 50
    offspring_retries: int = 20

    def __post_init__(self):
        checks = dict(population_size=self.population_size >= 1,
                      generations=self.generations >= 0,
                      init_retries=self.init_retries >= 1,
                      offspring_retries=self.offspring_retries >= 1,
                      crossover_prob=0 <= self.crossover_prob <= 1,
                      mutation_prob=self.mutation_prob is None or 0 <= self.mutation_prob <= 1)
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise DetnasInputError('search settings: ' + ', '.join(
                f'{k}={getattr(self, k)!r}' for k in bad) + ' out of range (sizes and '
                'retries >= 1, generations >= 0, probabilities in [0, 1]).')


@dataclass
class SearchResult:
    """The outcome of a search.

    Args:
        front: non-dominated candidates among everything scored (feasible ones only, as
            long as any candidate was feasible), ordered by the first objective.
        population: the final population, best front first.
        records: every scored candidate, in the order they were scored.
        history: one summary dict per generation.
    """
    front: List[ScoredCandidate]
    population: List[ScoredCandidate]
    records: List[ScoredCandidate]
    history: List[Dict[str, Any]] = field(default_factory=list)


class EvolutionSearch:
    """Multi-objective evolutionary search (NSGA-II) with constraints, cache and resume.

    Args:
        genome: the encoding of candidates.
        evaluate: scores a list of new candidates, returning one metrics dict each; called
            once per generation with every candidate not in the cache.
        objectives: metric keys to minimise; prefix ``'-'`` to maximise (``'-bbox_mAP'``).
        work_dir: folder of the state file (``search_state.json``).
        constraints: hard constraints, checked on the cost metrics before evaluation.
        cost_fn: cheap metrics of one candidate (required when there are constraints).
        config: NSGA-II settings.
        initial: candidates placed in the initial population before random ones (e.g. the
            seed architecture's encoding).
        is_writer: whether this process writes the state (default: rank 0 only).
        on_generation: called as ``on_generation(search, generation)`` after every
            generation (the initial population is generation 0) once its state is saved,
            on every rank: the place for progress logs.
        logger: the MMLogger name of the search's own messages (resume, restarts).
    """

    def __init__(self, genome: Genome, evaluate: Callable[[List[Candidate]], List[Metrics]],
                 objectives: Sequence[str], work_dir: str,
                 constraints: Sequence[Constraint] = (),
                 cost_fn: Optional[Callable[[Candidate], Metrics]] = None,
                 config: Optional[EvolutionConfig] = None,
                 initial: Sequence[Sequence[int]] = (), is_writer: Optional[bool] = None,
                 on_generation: Optional[Callable[['EvolutionSearch', int], None]] = None,
                 logger: str = 'current'):
        self.genome = genome
        self.evaluate = evaluate
        self.objectives = list(objectives)
        if not self.objectives:
            raise DetnasInputError('search: give at least one objective (e.g. "-bbox_mAP").')
        self.work_dir = work_dir
        self.constraints = list(constraints)
        if self.constraints and cost_fn is None:
            raise DetnasInputError('search: constraints ' + ', '.join(
                c.describe() for c in self.constraints) + ' need a cost_fn that reports the '
                'constrained metrics.')
        self.cost_fn = cost_fn
        self.config = config or EvolutionConfig()
        self.mutation_prob = (self.config.mutation_prob if self.config.mutation_prob is not None
                              else 1.0 / len(genome))
        self.initial = [genome.canonical(genome.validate(c)) for c in initial]
        self.is_writer = rank_and_world_size()[0] == 0 if is_writer is None else is_writer
        self.on_generation = on_generation
        self.logger = logger
        self.rng = random.Random(self.config.seed)
        self.generation = -1
        self.population: List[Candidate] = []
        self.records: Dict[Candidate, ScoredCandidate] = {}
        self.history: List[Dict[str, Any]] = []
        self._costs: Dict[Candidate, Metrics] = {}

    # -- objectives and constraints -------------------------------------------------------

    def objective_vector(self, metrics: Mapping[str, float]) -> Tuple[float, ...]:
        """The minimised objective values of one candidate's metrics.

        Args:
            metrics: the candidate's metrics.
        """
        return tuple(-float(metrics[k[1:]]) if k.startswith('-') else float(metrics[k])
                     for k in self.objectives)

    def cost(self, candidate: Candidate) -> Metrics:
        """Cheap metrics of a candidate (memoised; empty without a cost_fn).

        Args:
            candidate: the encoding.
        """
        if candidate not in self._costs:
            self._costs[candidate] = dict(self.cost_fn(candidate)) if self.cost_fn else {}
        return self._costs[candidate]

    def violation(self, candidate: Candidate) -> float:
        """Total constraint violation from the cost metrics.

        Args:
            candidate: the encoding.
        """
        return total_violation(self.constraints, self.cost(candidate))

    # -- the run --------------------------------------------------------------------------

    def fingerprint(self) -> Dict[str, Any]:
        """The settings a resumed run must share with the original one."""
        cfg = self.config
        return dict(choices=list(self.genome.choices), objectives=self.objectives,
                    constraints=[f'{c.key} {c.op} {c.limit!r}' for c in self.constraints],
                    population_size=cfg.population_size, seed=cfg.seed,
                    mutation_prob=self.mutation_prob, crossover_prob=cfg.crossover_prob,
                    init_retries=cfg.init_retries, offspring_retries=cfg.offspring_retries,
                    initial=[list(c) for c in self.initial])

    def run(self, resume: bool = False, resume_from: Optional[str] = None) -> SearchResult:
        """Runs (or continues) the search up to ``config.generations``.

        Args:
            resume: continue from ``work_dir/search_state.json`` if it exists (a kill during
                the initial population leaves none: the search then starts afresh).
            resume_from: a state file or folder to continue from; it must exist.
        """
        if resume_from:
            self.load(resume_from)
        elif resume and osp.isfile(osp.join(self.work_dir, STATE_FILENAME)):
            self.load(self.work_dir)
        else:
            if resume:
                self._log(f'search: no state in {self.work_dir}; starting afresh')
            self._initialise()
        for generation in range(self.generation + 1, self.config.generations + 1):
            self._step(generation)
        return self.result()

    def _initialise(self) -> None:
        cfg = self.config
        population, seen, fallback = [], set(), []
        for candidate in self.initial:
            if candidate not in seen:
                seen.add(candidate)
                population.append(candidate)
        tries, max_tries = 0, cfg.init_retries * cfg.population_size
        while len(population) < cfg.population_size and tries < max_tries:
            tries += 1
            candidate = self.genome.sample(self.rng)
            if candidate in seen:
                continue
            seen.add(candidate)
            if self.violation(candidate) <= 0:
                population.append(candidate)
            else:
                fallback.append(candidate)
        if self.constraints and not any(self.violation(c) <= 0 for c in population):
            raise DetnasInputError(self._unsatisfiable_message(sorted(seen), tries))
        fallback.sort(key=self.violation)
        population += fallback[:cfg.population_size - len(population)]
        self.generation = 0
        self._score(population, 0)
        self.population = population
        self._finish_generation(0)

    def _unsatisfiable_message(self, seen: List[Candidate], tries: int) -> str:
        parts = []
        for c in self.constraints:
            values = [c.value(self.cost(cand)) for cand in seen]
            best = min(values) if c.op == '<=' else max(values)
            met = sum(c.violation(self.cost(cand)) <= 0 for cand in seen)
            parts.append(f'{c.describe()} (best value seen {best:g}, met by {met} of '
                         f'{len(seen)})')
        return (f'search: none of the {len(seen)} distinct candidates sampled for the initial '
                f'population ({tries} draws, init_retries={self.config.init_retries}) meets '
                'all constraints: ' + '; '.join(parts) + '. Loosen the constraint or widen '
                'the search space.')

    def _make_child(self, ranks, crowding, taken) -> Optional[Candidate]:
        fallback = None
        for _ in range(self.config.offspring_retries):
            first = self.population[binary_tournament(ranks, crowding, self.rng)]
            second = self.population[binary_tournament(ranks, crowding, self.rng)]
            if self.rng.random() < self.config.crossover_prob:
                child = self.genome.crossover(first, second, self.rng)
            else:
                child = first
            child = self.genome.mutate(child, self.rng, self.mutation_prob)
            if child in taken:
                continue
            violation = self.violation(child)
            if violation <= 0:
                return child
            if fallback is None or violation < fallback[0]:
                fallback = (violation, child)
        return fallback[1] if fallback else None

    def _step(self, generation: int) -> None:
        objectives, violations = self._vectors(self.population)
        ranks, crowding = rank_and_crowding(objectives, violations)
        taken, children = set(self.population), []
        for _ in range(self.config.population_size):
            child = self._make_child(ranks, crowding, taken)
            if child is not None:
                taken.add(child)
                children.append(child)
        self._score(children, generation)
        combined = self.population + children
        objectives, violations = self._vectors(combined)
        survivors = environmental_selection(objectives, self.config.population_size,
                                            violations)
        self.population = [combined[i] for i in survivors]
        self.generation = generation
        self._finish_generation(generation)

    def _score(self, candidates: Sequence[Candidate], generation: int) -> None:
        new = [c for c in candidates if c not in self.records]
        if not new:
            return
        results = list(self.evaluate(list(new)))
        if len(results) != len(new):
            raise RuntimeError(f'search: evaluate returned {len(results)} results for '
                               f'{len(new)} candidates.')
        for candidate, result in zip(new, results):
            metrics = {k: _plain(v) for k, v in {**self.cost(candidate), **result}.items()}
            for key in self.objectives:
                name = key.lstrip('-')
                value = metrics.get(name)
                if not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise RuntimeError(f'search: candidate {list(candidate)} has objective '
                                       f'{name!r} = {value!r}; evaluate/cost_fn must return '
                                       f'a finite number for every objective.')
            self.records[candidate] = ScoredCandidate(
                candidate, metrics, total_violation(self.constraints, metrics), generation)

    def _vectors(self, candidates: Sequence[Candidate]):
        scored = [self.records[c] for c in candidates]
        return ([self.objective_vector(s.metrics) for s in scored],
                [s.violation for s in scored])

    def _finish_generation(self, generation: int) -> None:
        scored = [self.records[c] for c in self.population]
        feasible = [s for s in scored if s.feasible]
        best = {}
        for key in self.objectives if feasible else ():
            pick = max if key.startswith('-') else min
            best[key.lstrip('-')] = pick(s.metrics[key.lstrip('-')] for s in feasible)
        self.history.append(dict(
            generation=generation, scored_total=len(self.records),
            scored_new=sum(r.generation == generation for r in self.records.values()),
            feasible=len(feasible), best=best))
        if self.is_writer:
            self.state().save(self.work_dir)
        if self.on_generation is not None:
            self.on_generation(self, generation)

    def _log(self, message: str) -> None:
        if self.is_writer:
            print_log(message, logger=self.logger)

    # -- state ----------------------------------------------------------------------------

    def state(self) -> SearchState:
        """The current state as a :class:`SearchState`."""
        return SearchState(fingerprint=self.fingerprint(), generation=self.generation,
                           rng=encode_rng(self.rng),
                           population=[list(c) for c in self.population],
                           records=[r.to_dict() for r in self.records.values()],
                           history=[dict(h) for h in self.history])

    def load(self, path: str) -> None:
        """Restores a saved state; the settings must match the ones it was saved with.

        Args:
            path: the state file or the folder holding it.
        """
        state = SearchState.load(path)
        saved, current = state.fingerprint, self.fingerprint()
        changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
        if changed:
            detail = '; '.join(f'{k}: saved {saved.get(k)!r}, now {current.get(k)!r}'
                               for k in changed)
            raise DetnasInputError(f'resume: the search state in {path} was made with other '
                                   f'settings ({detail}). Resume with the original settings, '
                                   'or start a new search in another folder.')
        try:
            self.records = {}
            for data in state.records:
                record = ScoredCandidate.from_dict(data)
                self.records[self.genome.validate(record.candidate)] = record
            self.population = [self.genome.validate(c) for c in state.population]
            missing = [c for c in self.population if c not in self.records]
        except (KeyError, TypeError, ValueError) as exc:
            raise DetnasInputError(f'resume: search state {path} has malformed records '
                                   f'({exc}); delete it or point --resume elsewhere.') from None
        if missing:
            raise DetnasInputError(f'resume: search state {path} lists population members '
                                   f'without scores ({missing[:3]}); delete it or point '
                                   '--resume elsewhere.')
        self.rng = decode_rng(state.rng)
        self.generation = int(state.generation)
        self.history = list(state.history)
        self._log(f'search: resumed from {path} after generation {self.generation} '
                  f'({len(self.records)} scored candidates)')

    def result(self) -> SearchResult:
        """The front over every scored candidate, the final population and all records."""
        records = list(self.records.values())
        objectives = [self.objective_vector(r.metrics) for r in records]
        front = non_dominated_sort(objectives, [r.violation for r in records])
        front_records = sorted((records[i] for i in front[0]) if front else [],
                               key=lambda r: self.objective_vector(r.metrics))
        return SearchResult(front=front_records,
                            population=[self.records[c] for c in self.population],
                            records=records, history=[dict(h) for h in self.history])
