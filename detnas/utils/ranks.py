"""Rank statistics shared by the latency check and the benches."""
import math
from typing import List, Sequence


def average_ranks(values: Sequence[float]) -> List[float]:
    """Ranks 1..n, tied values sharing the mean of their ranks.

    Args:
        values: the numbers to rank.
    """
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks).

    Args:
        a: first sample.
        b: second sample of the same length (>= 2).

    Returns:
        the correlation in [-1, 1], or NaN when either sample is constant.
    """
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f'spearman: need two samples of equal length >= 2, got {len(a)} and '
                         f'{len(b)}.')
    ra, rb = average_ranks(a), average_ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var_a = sum((x - ma)**2 for x in ra)
    var_b = sum((y - mb)**2 for y in rb)
    if var_a == 0 or var_b == 0:
        return math.nan
    return cov / math.sqrt(var_a * var_b)
