"""detnas.utils.ranks against scipy."""
import random

import pytest
from scipy import stats

from detnas.utils.ranks import average_ranks, spearman


def test_average_ranks_and_spearman_match_scipy_with_ties():
    assert average_ranks([10, 20, 20, 5]) == [2, 3.5, 3.5, 1]
    rng = random.Random(0)
    for _ in range(20):
        a = [rng.randint(0, 5) for _ in range(12)]
        b = [x + rng.randint(-3, 3) for x in a]
        assert average_ranks(a) == pytest.approx(list(stats.rankdata(a)))
        assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match='equal length >= 2'):
        spearman([1], [1])
