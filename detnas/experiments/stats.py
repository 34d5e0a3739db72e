"""Statistics of results over training seeds: mean and spread, paired intervals."""
import math
import random
import statistics
from typing import Optional, Sequence, Tuple

from detnas.utils.ranks import spearman


def mean_std(values: Sequence[Optional[float]]) -> Tuple[Optional[float], Optional[float]]:
    """Mean and sample standard deviation of the values that are not None."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _paired_bootstrap(first: Sequence[float], second: Sequence[float], statistic,
                      level: float, resamples: int, seed: int
                      ) -> Optional[Tuple[float, float]]:
    """Percentile-bootstrap interval of ``statistic(first, second)`` with the pairs resampled
    together; None below three pairs. Resamples where the statistic is undefined (None) are
    left out."""
    if len(first) != len(second):
        raise ValueError(f'{len(first)} numerators vs {len(second)} denominators: '
                         'the values must be paired')
    n = len(first)
    if n < 3:
        return None
    rng = random.Random(seed)
    values = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        value = statistic([first[i] for i in picks], [second[i] for i in picks])
        if value is not None:
            values.append(value)
    values.sort()
    tail = (1 - level) / 2
    last = len(values) - 1
    return values[round(tail * last)], values[round((1 - tail) * last)]


def paired_ratio_interval(numerators: Sequence[float], denominators: Sequence[float],
                          level: float = 0.9, resamples: int = 10000,
                          seed: int = 0) -> Optional[Tuple[float, float]]:
    """Percentile-bootstrap interval of ``sum(numerators) / sum(denominators)`` with the
    pairs (one per training seed) resampled together: how far the ratio of two means could
    move with other seeds. None with fewer than three pairs (too few to resample).

    Args:
        numerators: per-seed values of the arm (e.g. its AP).
        denominators: the reference's values on the same seeds, in the same order.
        level: the interval's coverage (0.9: the 5th to the 95th percentile).
        resamples: bootstrap resamples.
        seed: seed of the resampling (the interval is reproducible).
    """
    return _paired_bootstrap(numerators, denominators,
                             lambda a, b: sum(a) / sum(b) if sum(b) else None,
                             level, resamples, seed)


def paired_difference_interval(values: Sequence[float], reference: Sequence[float],
                               level: float = 0.9, resamples: int = 10000,
                               seed: int = 0) -> Optional[Tuple[float, float]]:
    """Percentile-bootstrap interval of ``mean(values) - mean(reference)`` with the pairs
    (one per training seed) resampled together; None with fewer than three pairs.

    Args:
        values: per-seed values of the arm.
        reference: the reference's values on the same seeds, in the same order.
        level: the interval's coverage.
        resamples: bootstrap resamples.
        seed: seed of the resampling.
    """
    return _paired_bootstrap(values, reference,
                             lambda a, b: (sum(a) - sum(b)) / len(a), level, resamples, seed)


def _bracket(points, x):
    """``points`` sorted by x and the index of the first point at or above ``x``; None when
    ``x`` lies outside them."""
    points = sorted(points, key=lambda p: p[0])
    if not points or not points[0][0] <= x <= points[-1][0]:
        return None
    return points, next(i for i, (px, _) in enumerate(points) if px >= x)


def curve_at(points: Sequence[Tuple[float, Sequence[float]]], x: float) -> Optional[list]:
    """A curve measured per training seed, read at ``x``: for each seed, linear between the
    two points around ``x``; None when ``x`` lies outside the points (no extrapolation).

    Args:
        points: ``(x, values per seed)`` in any order, every point with the same seeds.
        x: where to read the curve (e.g. a searched arch's FLOPs on a uniform-scaling curve).
    """
    bracket = _bracket(points, x)
    if bracket is None:
        return None
    points, right = bracket
    (x1, y1) = points[right]
    if x1 == x or right == 0:
        return list(y1)
    (x0, y0) = points[right - 1]
    t = (x - x0) / (x1 - x0)
    return [a + t * (b - a) for a, b in zip(y0, y1)]


def concave_bound_at(points: Sequence[Tuple[float, Sequence[float]]],
                     x: float) -> Optional[list]:
    """Per training seed, the most a *concave* curve through the points can reach at ``x``:
    the lines through the neighbouring segments (the two points below the bracket, the two
    above it), extended to ``x``, the lower of the two. (A concave curve lies below every
    secant outside the secant's span; the chord of :func:`curve_at` is then a lower bound.)
    None outside the points, or when neither neighbouring segment exists.

    Args:
        points: ``(x, values per seed)`` in any order, every point with the same seeds.
        x: where to bound the curve.
    """
    bracket = _bracket(points, x)
    if bracket is None:
        return None
    points, right = bracket
    if points[right][0] == x:  # a measured point
        return list(points[right][1])
    segments = [points[j:j + 2] for j in (right - 2, right) if 0 <= j and j + 1 < len(points)]
    if not segments:
        return None

    def extended(seg, k):
        (x0, y0), (x1, y1) = seg
        return y0[k] + (x - x0) * (y1[k] - y0[k]) / (x1 - x0)
    return [min(extended(seg, k) for seg in segments) for k in range(len(points[0][1]))]


def paired_ratio(runs: dict, arm: str, reference: str, level: float = 0.9
                 ) -> Optional[dict]:
    """Mean AP of ``arm`` over mean AP of ``reference`` on the seeds both finished, as
    ``{'seeds', 'ratio', 'interval'}`` (``interval``: the paired bootstrap interval over
    seeds at ``level``, None below three seeds); None when they share no seed.

    Args:
        runs: a comparison's ``runs`` (name -> list of run records with ``seed``).
        arm: the arm to compare.
        reference: the arm it is divided by.
        level: the interval's coverage.
    """
    ap = {name: {r['seed']: r['metrics']['AP'] for r in records}
          for name, records in runs.items()}
    seeds = sorted(set(ap[arm]) & set(ap[reference]))
    total = sum(ap[reference][s] for s in seeds)
    if not seeds or not total:
        return None
    interval = paired_ratio_interval([ap[arm][s] for s in seeds],
                                     [ap[reference][s] for s in seeds], level=level)
    return dict(seeds=seeds, ratio=sum(ap[arm][s] for s in seeds) / total,
                interval=list(interval) if interval else None)


def goal_verdict(paired: Optional[dict], goal: float, level: float = 0.9) -> str:
    """Whether a paired ratio meets ``goal``: 'met' / 'not met' when its bootstrap interval
    lies on one side of it, else 'not decided by these seeds' (point estimate given).

    Args:
        paired: :func:`paired_ratio`'s result.
        goal: the ratio to reach.
        level: the coverage its interval was made with (for the text).
    """
    if not paired:
        return 'no paired seeds'
    side = 'above' if paired['ratio'] >= goal else 'below'
    low, high = paired['interval'] or (None, None)
    if low is not None and low >= goal:
        return f'met (the whole {level * 100:.0f} % interval is at or above {goal:.2f})'
    if high is not None and high < goal:
        return f'not met (the whole {level * 100:.0f} % interval is below {goal:.2f})'
    return f'not decided by these seeds (point estimate {side} {goal:.2f})'


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> Optional[float]:
    """Spearman's rank correlation (Pearson's on average ranks); None when undefined (fewer
    than two values, or one side constant)."""
    if len(x) != len(y):
        raise ValueError(f'{len(x)} x values vs {len(y)} y values')
    if len(x) < 2:
        return None
    rho = spearman(x, y)
    return None if math.isnan(rho) else rho


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> Optional[float]:
    """Kendall's tau-b (ties in either variable accounted for); None when undefined."""
    if len(x) != len(y):
        raise ValueError(f'{len(x)} x values vs {len(y)} y values')
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    n1 = concordant + discordant + ties_x
    n2 = concordant + discordant + ties_y
    return (concordant - discordant) / (n1 * n2) ** 0.5 if n1 and n2 else None
