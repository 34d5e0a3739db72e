"""Model-independent multi-objective evolutionary search (NSGA-II) for backbone adaptation.

:class:`Genome` encodes candidates, :mod:`.nsga2` ranks them, :class:`EvolutionSearch` runs
generations with a cache, constraints and atomic resumable state, :func:`evaluate_on_ranks`
spreads evaluation over torchrun ranks and :func:`write_pareto` writes the front.
"""
from .constraints import Constraint, total_violation
from .distributed import (evaluate_on_ranks, merge_rank_results, rank_and_world_size,
                          split_for_rank)
from .genome import Candidate, Genome
from .nsga2 import (binary_tournament, constrained_dominates, crowded_better,
                    crowding_distance, dominates, environmental_selection,
                    non_dominated_sort, rank_and_crowding)
from .pareto_report import write_pareto
from .search import EvolutionConfig, EvolutionSearch, ScoredCandidate, SearchResult
from .state import STATE_FILENAME, SearchState, atomic_write_json

__all__ = [
    'Constraint', 'total_violation', 'evaluate_on_ranks', 'merge_rank_results',
    'rank_and_world_size', 'split_for_rank', 'Candidate', 'Genome', 'binary_tournament',
    'constrained_dominates', 'crowded_better', 'crowding_distance', 'dominates',
    'environmental_selection', 'non_dominated_sort', 'rank_and_crowding', 'write_pareto',
    'EvolutionConfig', 'EvolutionSearch', 'ScoredCandidate', 'SearchResult',
    'STATE_FILENAME', 'SearchState', 'atomic_write_json'
]
