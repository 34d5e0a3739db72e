"""Rank statistics of the ranking bench against scipy's."""
import random

import pytest
from helpers import load_script
from scipy import stats

from detnas.experiments import (concave_bound_at, curve_at, kendall_tau,
                                paired_difference_interval, spearman_rho)


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


def test_curve_at_reads_each_seed_linearly_and_never_extrapolates():
    import numpy as np
    points = [(597.0, [0.388, 0.406, 0.400]), (301.0, [0.314, 0.298, 0.290]),
              (443.0, [0.371, 0.365, 0.360])]  # unsorted on purpose
    xs = [301.0, 443.0, 597.0]
    for x in (301.0, 350.0, 443.0, 500.0, 597.0):
        expected = [np.interp(x, xs, [dict(points)[p][i] for p in xs]) for i in range(3)]
        assert curve_at(points, x) == pytest.approx(expected, abs=1e-12)
    assert curve_at(points, 350.0)[0] == pytest.approx(0.314 + (49 / 142) * (0.371 - 0.314))
    assert curve_at(points, 300.0) is None and curve_at(points, 598.0) is None
    assert curve_at([(258.0, [0.29])], 258.0) == [0.29]
    assert curve_at([], 1.0) is None


def test_concave_bound_at_bounds_every_concave_curve_through_the_points():
    import numpy as np
    curve = np.sqrt  # concave
    xs = [1.0, 4.0, 9.0, 16.0]
    points = [(x, [curve(x), 2 * curve(x)]) for x in xs]
    for x in np.linspace(1.0, 16.0, 61):
        lower, upper = curve_at(points, x), concave_bound_at(points, x)
        for k, scale in enumerate((1, 2)):
            assert lower[k] - 1e-12 <= scale * curve(x) <= upper[k] + 1e-12, x
    # between 4 and 9: the segments 1-4 and 9-16 extended to x = 6, the lower of the two
    left = 2 + (6 - 4) * (2 - 1) / 3
    right = 3 - (9 - 6) * (4 - 3) / 7
    assert concave_bound_at(points, 6.0) == pytest.approx([min(left, right), 2 * min(left, right)])
    assert concave_bound_at(points, 9.0) == [3.0, 6.0]  # a measured point
    assert concave_bound_at(points[:2], 2.0) is None  # no neighbouring segment
    assert concave_bound_at(points, 0.5) is None


def test_the_ranking_bench_reports_tau_per_training_seed_against_scipy():
    """bench/search_ranking.py: one tau per training seed, over the archs that seed finished."""
    bench = load_script('bench/search_ranking.py')
    rng = random.Random(1)
    names = [f'a{i}' for i in range(8)]
    proxy = {n: dict(bbox_mAP=rng.random()) for n in names}
    runs = {n: [dict(seed=0, metrics=dict(AP=proxy[n]['bbox_mAP'] + rng.gauss(0, 0.2)))]
            for n in names}
    for n in names[:6]:  # seed 1 finished six of the eight
        runs[n].append(dict(seed=1, metrics=dict(AP=rng.random())))
    taus = bench.tau_per_seed(proxy, runs, [0, 1])
    for seed, count in ((0, 8), (1, 6)):
        done = [n for n in names if any(r['seed'] == seed for r in runs[n])]
        assert len(done) == count
        expected = stats.kendalltau([proxy[n]['bbox_mAP'] for n in done],
                                    [next(r['metrics']['AP'] for r in runs[n]
                                          if r['seed'] == seed) for n in done])[0]
        assert taus[str(seed)] == pytest.approx(expected, abs=1e-12)
    assert taus['0'] != pytest.approx(taus['1'], abs=0.05)
