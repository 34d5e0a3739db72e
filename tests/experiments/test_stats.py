"""Rank statistics of the ranking bench against scipy's."""
import random

import pytest
from scipy import stats

from detnas.experiments import (average_ranks, kendall_tau, paired_difference_interval,
                                spearman_rho)


def _pairs():
    rng = random.Random(0)
    out = [([1, 2, 3, 4], [1, 2, 3, 4]), ([1, 2, 3, 4], [4, 3, 2, 1])]
    for n in (5, 12, 30):
        x = [rng.random() for _ in range(n)]
        out.append((x, [v + rng.gauss(0, 0.3) for v in x]))
        # ties on both sides (rounded values), as AP rounded to 3 decimals has
        out.append(([round(v, 1) for v in x], [round(v + rng.gauss(0, 0.2), 1) for v in x]))
    return out


@pytest.mark.parametrize('x, y', _pairs())
def test_kendall_and_spearman_equal_scipys(x, y):
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert average_ranks(x) == pytest.approx(list(stats.rankdata(x)))


def test_undefined_correlations_are_none():
    assert kendall_tau([1, 1, 1], [1, 2, 3]) is None
    assert spearman_rho([1, 2, 3], [5, 5, 5]) is None
    assert spearman_rho([1], [2]) is None
    with pytest.raises(ValueError, match='3 x values vs 2'):
        kendall_tau([1, 2, 3], [1, 2])


def test_paired_difference_interval_is_the_exact_bootstrap_of_the_mean_difference():
    import itertools
    a, b = [0.40, 0.38, 0.41], [0.37, 0.38, 0.36]
    diffs = sorted(sum(a[i] - b[i] for i in picks) / 3
                   for picks in itertools.product(range(3), repeat=3))
    low, high = paired_difference_interval(a, b, level=0.9)
    assert low == pytest.approx(diffs[1], abs=1e-12)  # 5 % / 95 % of the 27 atoms
    assert high == pytest.approx(diffs[-2], abs=1e-12)
    same = paired_difference_interval([0.5, 0.6, 0.7, 0.4], [0.4, 0.5, 0.6, 0.3])
    assert same == pytest.approx((0.1, 0.1))
    assert paired_difference_interval([0.1, 0.2], [0.2, 0.2]) is None
