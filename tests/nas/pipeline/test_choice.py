"""The search's choice rule, its tie-breaks and budget constraints relative to the seed."""
import pytest

from detnas.nas.evolution import ScoredCandidate
from detnas.nas.pipeline import choose, parse_constraints
from detnas.utils.errors import DetnasInputError


def _record(candidate, ap, ap50=0.5, ap_s=0.2, flops=100.0, violation=0.0):
    return ScoredCandidate((candidate, ), dict(bbox_mAP=ap, bbox_mAP_50=ap50, bbox_mAP_s=ap_s,
                                               flops=flops), violation, 0)


def test_highest_unrounded_ap_wins_among_feasible_members():
    front = [_record(0, 0.3001, flops=50), _record(1, 0.3004, flops=90),
             _record(2, 0.40, violation=1.0)]  # infeasible, however good
    assert choose(front).candidate == (1, )


def test_ties_fall_to_ap50_then_ap_s_then_flops():
    assert choose([_record(0, 0.3, ap50=0.50), _record(1, 0.3, ap50=0.52)]).candidate == (1, )
    assert choose([_record(0, 0.3, ap_s=0.21), _record(1, 0.3, ap_s=0.20)]).candidate == (0, )
    assert choose([_record(0, 0.3, flops=90), _record(1, 0.3, flops=80)]).candidate == (1, )
    assert choose([_record(3, 0.3), _record(2, 0.3)]).candidate == (2, )


def test_budgets_are_fractions_of_the_seeds_cost():
    seed = dict(flops=600.0, params=10.0, latency_ms=20.0)
    c = parse_constraints(['flops<=0.5*seed', 'latency_ms <= 0.75 * seed', 'params>=seed'],
                          seed)
    assert [(x.key, x.op, x.limit) for x in c] == [('flops', '<=', 300.0),
                                                   ('latency_ms', '<=', 15.0),
                                                   ('params', '>=', 10.0)]
    with pytest.raises(DetnasInputError, match="'x' is not a number|KEY<=NUMBER"):
        parse_constraints(['flops<=x*seed'], seed)


def test_under_a_budget_the_costliest_member_tied_with_the_best_is_chosen():
    best = _record(0, 0.300, flops=100)
    front = [best, _record(1, 0.296, flops=150), _record(2, 0.280, flops=180),
             _record(3, 0.299, flops=90), _record(4, 0.300, flops=300, violation=1.0)]
    asked = []

    def within_half_a_point(b, other):  # a stand-in for the paired standard-error test
        asked.append(other.candidate)
        return b.metrics['bbox_mAP'] - other.metrics['bbox_mAP'] <= 0.005

    assert choose(front, within_half_a_point, 'flops').candidate == (1, )
    # costlier feasible members, most FLOPs first; stops at the first tie; never the
    # infeasible one nor a cheaper one
    assert asked == [(2, ), (1, )]
    assert choose(front, lambda b, o: False, 'flops') is best
    assert choose(front, within_half_a_point, None) is best  # no budget: the best score
    assert choose(front) is best
