"""NSGA-II selection (Deb et al., 2002) on plain objective vectors; every objective is minimised.

Constraints follow Deb's constraint-domination rule: a feasible point (total violation 0)
beats an infeasible one; of two infeasible points the one with the smaller total violation
wins; two feasible points compare by Pareto dominance. All functions work on indices into
the lists they are given and break ties by position, so results are deterministic.
"""
import random
from typing import List, Optional, Sequence, Tuple

Objectives = Sequence[float]


def dominates(a: Objectives, b: Objectives) -> bool:
    """Pareto dominance for minimisation: ``a`` no worse everywhere and better somewhere.

    Args:
        a: objective vector.
        b: objective vector of the same length.
    """
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def constrained_dominates(a: Objectives, violation_a: float, b: Objectives,
                          violation_b: float) -> bool:
    """Deb's constraint-domination: does ``a`` beat ``b``?

    Args:
        a: objective vector of the first point.
        violation_a: its total constraint violation (0 means feasible).
        b: objective vector of the second point.
        violation_b: its total constraint violation.
    """
    if violation_a <= 0 and violation_b <= 0:
        return dominates(a, b)
    if violation_a <= 0 or violation_b <= 0:
        return violation_a <= 0
    return violation_a < violation_b


def non_dominated_sort(objectives: Sequence[Objectives],
                       violations: Optional[Sequence[float]] = None) -> List[List[int]]:
    """Fast non-dominated sorting into fronts (front 0 is the best).

    Args:
        objectives: one objective vector per point.
        violations: total constraint violation per point (default: all feasible).

    Returns:
        fronts as lists of point indices, each in increasing index order.
    """
    n = len(objectives)
    violations = violations if violations is not None else [0.0] * n
    beaten = [[] for _ in range(n)]  # beaten[i]: the points i dominates
    count = [0] * n  # count[i]: how many points dominate i
    for i in range(n):
        for j in range(i + 1, n):
            if constrained_dominates(objectives[i], violations[i], objectives[j],
                                     violations[j]):
                beaten[i].append(j)
                count[j] += 1
            elif constrained_dominates(objectives[j], violations[j], objectives[i],
                                       violations[i]):
                beaten[j].append(i)
                count[i] += 1
    fronts = []
    current = [i for i in range(n) if count[i] == 0]
    while current:
        fronts.append(current)
        following = []
        for i in current:
            for j in beaten[i]:
                count[j] -= 1
                if count[j] == 0:
                    following.append(j)
        current = sorted(following)
    return fronts


def crowding_distance(objectives: Sequence[Objectives], front: Sequence[int]) -> List[float]:
    """Crowding distance of each member of one front (aligned with ``front``).

    Per objective, the two extreme members get infinity and every other member adds the
    gap between its two neighbours divided by the objective's range in the front; an
    objective with zero range adds nothing.

    Args:
        objectives: objective vectors of all points.
        front: indices of the front's members.
    """
    size = len(front)
    distance = [0.0] * size
    if size == 0:
        return distance
    for m in range(len(objectives[front[0]])):
        order = sorted(range(size), key=lambda k: objectives[front[k]][m])
        low = objectives[front[order[0]]][m]
        high = objectives[front[order[-1]]][m]
        distance[order[0]] = distance[order[-1]] = float('inf')
        if high == low:
            continue
        for pos in range(1, size - 1):
            gap = objectives[front[order[pos + 1]]][m] - objectives[front[order[pos - 1]]][m]
            distance[order[pos]] += gap / (high - low)
    return distance


def rank_and_crowding(objectives: Sequence[Objectives],
                      violations: Optional[Sequence[float]] = None
                      ) -> Tuple[List[int], List[float]]:
    """Front index and crowding distance of every point.

    Args:
        objectives: one objective vector per point.
        violations: total constraint violation per point (default: all feasible).
    """
    ranks = [0] * len(objectives)
    crowding = [0.0] * len(objectives)
    for rank, front in enumerate(non_dominated_sort(objectives, violations)):
        for i, dist in zip(front, crowding_distance(objectives, front)):
            ranks[i] = rank
            crowding[i] = dist
    return ranks, crowding


def crowded_better(i: int, j: int, ranks: Sequence[int], crowding: Sequence[float]) -> bool:
    """The crowded-comparison operator: lower front first, then larger crowding distance.

    Args:
        i: index of the first point.
        j: index of the second point.
        ranks: front index per point.
        crowding: crowding distance per point.
    """
    if ranks[i] != ranks[j]:
        return ranks[i] < ranks[j]
    return crowding[i] > crowding[j]


def binary_tournament(ranks: Sequence[int], crowding: Sequence[float],
                      rng: random.Random) -> int:
    """Draws two points at random and returns the index of the crowded-comparison winner.

    Args:
        ranks: front index per point.
        crowding: crowding distance per point.
        rng: the run's random generator.
    """
    i, j = rng.randrange(len(ranks)), rng.randrange(len(ranks))
    return j if crowded_better(j, i, ranks, crowding) else i


def environmental_selection(objectives: Sequence[Objectives], size: int,
                            violations: Optional[Sequence[float]] = None) -> List[int]:
    """NSGA-II survivor selection: whole fronts in order, the last one cut by crowding.

    Args:
        objectives: objective vectors of parents and offspring together.
        size: number of survivors.
        violations: total constraint violation per point (default: all feasible).

    Returns:
        indices of the survivors, best front first.
    """
    chosen = []
    for front in non_dominated_sort(objectives, violations):
        if len(chosen) + len(front) <= size:
            chosen.extend(front)
            continue
        distance = crowding_distance(objectives, front)
        by_crowding = sorted(range(len(front)), key=lambda k: -distance[k])
        chosen.extend(front[k] for k in by_crowding[:size - len(chosen)])
        break
    return chosen
