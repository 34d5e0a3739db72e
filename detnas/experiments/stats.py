"""Statistics of results over training seeds: mean and spread, paired intervals."""
import random
import statistics
from typing import Optional, Sequence, Tuple


def mean_std(values: Sequence[Optional[float]]) -> Tuple[Optional[float], Optional[float]]:
    """Mean and sample standard deviation of the values that are not None."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


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
    if len(numerators) != len(denominators):
        raise ValueError(f'{len(numerators)} numerators vs {len(denominators)} denominators: '
                         'the values must be paired')
    n = len(numerators)
    if n < 3:
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        den = sum(denominators[i] for i in picks)
        if den:
            ratios.append(sum(numerators[i] for i in picks) / den)
    ratios.sort()
    tail = (1 - level) / 2
    last = len(ratios) - 1
    return ratios[round(tail * last)], ratios[round((1 - tail) * last)]


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
