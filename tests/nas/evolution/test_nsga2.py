"""NSGA-II building blocks and the search driver on cheap analytic problems."""
import json
import math
import random

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from detnas.nas.evolution import (Constraint, EvolutionConfig, EvolutionSearch, Genome,
                                  binary_tournament, constrained_dominates, crowding_distance,
                                  dominates, environmental_selection, evaluate_on_ranks,
                                  merge_rank_results, non_dominated_sort, rank_and_crowding,
                                  split_for_rank)
from detnas.utils.errors import DetnasInputError

# Hand-checked example, both objectives minimised. Letters name the points:
#   A(1,9) B(2,6) C(4,5) D(8,1)  no point is <= in both objectives -> front 0
#   E(3,7) is dominated by B(2,6); F(5,6) by C(4,5); G(9,2) by D(8,1); among E, F, G none
#          dominates another (better f1 always means worse f2) -> front 1
#   H(6,8) is dominated by E and F -> front 2
POINTS = {'E': (3, 7), 'A': (1, 9), 'H': (6, 8), 'C': (4, 5), 'G': (9, 2), 'B': (2, 6),
          'F': (5, 6), 'D': (8, 1)}
NAMES = list(POINTS)  # index order: E A H C G B F D
OBJ = [POINTS[n] for n in NAMES]


def idx(letters):
    return [NAMES.index(c) for c in letters]


def test_non_dominated_sort_hand_example():
    fronts = non_dominated_sort(OBJ)
    assert fronts == [sorted(idx('ABCD')), sorted(idx('EFG')), idx('H')]


def test_crowding_distance_hand_example():
    # Front 0 sorted by f1: A(1) B(2) C(4) D(8), range 7 -> A, D infinite,
    #   B += (4-1)/7 = 3/7, C += (8-2)/7 = 6/7.
    # Sorted by f2: D(1) C(5) B(6) A(9), range 8 -> C += (6-1)/8 = 5/8, B += (9-5)/8 = 1/2.
    # So B = 3/7 + 1/2 = 13/14 and C = 6/7 + 5/8 = 83/56.
    front = idx('ABCD')
    dist = dict(zip('ABCD', crowding_distance(OBJ, front)))
    assert dist['A'] == dist['D'] == math.inf
    assert dist['B'] == pytest.approx(13 / 14)
    assert dist['C'] == pytest.approx(83 / 56)
    # Front 1: E(3,7) F(5,6) G(9,2): F += (9-3)/6 = 1 for f1 and (7-2)/5 = 1 for f2 -> 2.
    dist = dict(zip('EFG', crowding_distance(OBJ, idx('EFG'))))
    assert dist == {'E': math.inf, 'F': pytest.approx(2.0), 'G': math.inf}
    # Equal values in an objective contribute nothing for it (range 0).
    assert crowding_distance([(1, 5), (1, 3), (1, 1)], [0, 1, 2])[1] == pytest.approx(1.0)


def test_environmental_selection_hand_example():
    # 6 survivors: front 0 (4) + the two infinite-crowding ends of front 1 (E, G), not F.
    assert sorted(environmental_selection(OBJ, 6)) == sorted(idx('ABCDEG'))
    assert sorted(environmental_selection(OBJ, 7)) == sorted(idx('ABCDEFG'))
    # 3 of front 0: the two ends (infinite) and the most isolated interior point, C.
    assert sorted(environmental_selection(OBJ, 3)) == sorted(idx('ACD'))


def test_fronts_satisfy_definition_on_random_points():
    rng = random.Random(5)
    objs = [tuple(rng.randint(0, 6) for _ in range(3)) for _ in range(60)]
    fronts = non_dominated_sort(objs)
    assert sorted(i for f in fronts for i in f) == list(range(60))
    for k, front in enumerate(fronts):
        later = [j for f in fronts[k:] for j in f]
        for i in front:  # nobody in this or a later front dominates i ...
            assert not any(dominates(objs[j], objs[i]) for j in later)
            if k:  # ... and someone in the previous front does
                assert any(dominates(objs[j], objs[i]) for j in fronts[k - 1])


def test_constraint_domination_rule():
    good, bad = (0.0, 0.0), (9.0, 9.0)
    assert constrained_dominates(bad, 0.0, good, 0.1)  # feasible beats infeasible
    assert not constrained_dominates(good, 0.1, bad, 0.0)
    assert constrained_dominates(bad, 0.2, good, 0.5)  # smaller violation wins
    assert not constrained_dominates(good, 0.5, bad, 0.2)
    assert not constrained_dominates(good, 0.3, bad, 0.3)  # equal violation: neither
    assert not constrained_dominates(bad, 0.3, good, 0.3)
    assert constrained_dominates(good, 0.0, bad, 0.0)  # both feasible: Pareto
    # Sorting with violations: feasible point 2 first though its objectives are worst;
    # infeasible points ordered by violation; 0 and 3 tie (same violation).
    objs = [(0, 0), (1, 1), (5, 5), (0, 1)]
    assert non_dominated_sort(objs, [0.4, 0.1, 0.0, 0.4]) == [[2], [1], [0, 3]]


def test_tournament_prefers_lower_front_then_crowding():
    rng = random.Random(0)
    # Two points, point 1 in the better front: point 0 wins only if both draws are 0.
    wins = sum(binary_tournament([1, 0], [9.0, 0.0], rng) == 0 for _ in range(4000))
    assert 0.21 < wins / 4000 < 0.29
    # Same front: larger crowding wins the same way.
    wins = sum(binary_tournament([0, 0], [0.5, 2.0], rng) == 0 for _ in range(4000))
    assert 0.21 < wins / 4000 < 0.29
    ranks, crowding = rank_and_crowding(OBJ)
    assert [ranks[i] for i in idx('ABCDEFGH')] == [0, 0, 0, 0, 1, 1, 1, 2]


def test_genome_operators():
    genome = Genome([3, 1, 5, 2])
    rng = random.Random(1)
    parent = (2, 0, 4, 1)
    for _ in range(50):
        child = genome.mutate(parent, rng, prob=1.0)
        # every gene with more than one choice changes, to a value in range
        assert child[1] == 0 and all(c != p for i, (c, p) in enumerate(zip(child, parent))
                                     if i != 1)
        assert genome.validate(child) == child
        assert genome.mutate(parent, rng, prob=0.0) == parent
        mixed = genome.crossover(parent, (0, 0, 0, 0), rng)
        assert all(m in (p, 0) for m, p in zip(mixed, parent))
        assert genome.validate(genome.sample(rng))
    with pytest.raises(DetnasInputError, match='gene2'):
        genome.validate((0, 0, 5, 0))
    canon = Genome([2, 4], canonicalize=lambda c: (c[0], c[1] if c[0] else 0))
    samples = [canon.sample(rng) for _ in range(40)]
    assert {s[0] for s in samples} == {0, 1}
    assert all(s[1] == 0 for s in samples if s[0] == 0)


def zdt1(candidate, levels=3):
    """ZDT1 on genes in 0..levels: f1 = x0, f2 = g (1 - sqrt(x0 / g))."""
    x = [gene / levels for gene in candidate]
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    return dict(f1=x[0], f2=g * (1 - math.sqrt(x[0] / g)))


def make_search(tmp_path, seed=0, constraints=(), generations=12, calls=None):
    def evaluate(cands):
        if calls is not None:
            calls.extend(cands)
        return [zdt1(c) for c in cands]
    return EvolutionSearch(Genome([4] * 4), evaluate, ['f1', 'f2'], str(tmp_path),
                           constraints=constraints,
                           cost_fn=lambda c: dict(f1=zdt1(c)['f1']),
                           config=EvolutionConfig(population_size=12, generations=generations,
                                                  seed=seed))


def test_search_finds_true_front_and_never_rescores(tmp_path):
    calls = []
    result = make_search(tmp_path, calls=calls).run()
    # True front of integer ZDT1: g = 1 needs genes 1..3 at 0; every x0 is then optimal.
    assert sorted(r.candidate for r in result.front) == [(i, 0, 0, 0) for i in range(4)]
    assert len(calls) == len(set(calls)) == len(result.records)
    assert len(result.population) == 12


def test_search_is_deterministic_given_seed(tmp_path):
    runs = [make_search(tmp_path / str(i), seed=s).run() for i, s in enumerate((3, 3, 4))]
    first, same, other = ([(r.candidate, r.metrics) for r in run.records] for run in runs)
    assert first == same
    assert first != other


def test_search_respects_constraint(tmp_path):
    calls = []
    result = make_search(tmp_path, constraints=[Constraint('f1', 0.5)], calls=calls).run()
    # f1 = x0 <= 0.5 allows x0 in {0, 1/3}: the constrained front has two points.
    assert sorted(r.candidate for r in result.front) == [(0, 0, 0, 0), (1, 0, 0, 0)]
    assert all(r.feasible for r in result.population)
    # the cost check keeps infeasible children from the expensive evaluation
    assert sum(zdt1(c)['f1'] > 0.5 for c in calls) <= 1


def test_unsatisfiable_constraint_names_it_and_best_value(tmp_path):
    search = make_search(tmp_path, constraints=[Constraint.parse('f1 <= -0.25')])
    with pytest.raises(DetnasInputError, match=r'f1 <= -0\.25 \(best value seen 0,'):
        search.run()
    with pytest.raises(DetnasInputError, match='KEY<=NUMBER'):
        Constraint.parse('flops < 3')


def test_rank_split_and_gather_without_distributed():
    items = list(range(11))
    for world in (1, 2, 3, 4):
        parts = [split_for_rank(items, r, world) for r in range(world)]
        assert sorted(x for p in parts for x in p) == items
        assert max(map(len, parts)) - min(map(len, parts)) <= 1
        assert merge_rank_results([[x * 10 for x in p] for p in parts]) == [x * 10
                                                                              for x in items]
    batches = []
    out = evaluate_on_ranks(lambda xs: batches.append(xs) or [x + 1 for x in xs], items)
    assert out == [x + 1 for x in items] and batches == [items]


def _two_rank_worker(rank, store, out_dir):
    dist.init_process_group('gloo', init_method=f'file://{store}', rank=rank, world_size=2)
    mine = []

    def local(cands):
        mine.extend(cands)
        return [zdt1(c) for c in cands]

    search = EvolutionSearch(Genome([4] * 4), lambda cs: evaluate_on_ranks(local, cs),
                             ['f1', 'f2'], f'{out_dir}/search',
                             config=EvolutionConfig(population_size=12, generations=6))
    result = search.run()
    with open(f'{out_dir}/rank{rank}.json', 'w') as f:
        json.dump(dict(mine=mine, records=[r.to_dict() for r in result.records]), f)
    dist.destroy_process_group()


def test_search_over_two_gloo_ranks_matches_single_process(tmp_path):
    mp.spawn(_two_rank_worker, args=(str(tmp_path / 'store'), str(tmp_path)), nprocs=2)
    ranks = [json.load(open(tmp_path / f'rank{r}.json')) for r in range(2)]
    single = make_search(tmp_path / 'single', generations=6).run()
    expected = [r.to_dict() for r in single.records]
    assert ranks[0]['records'] == ranks[1]['records'] == expected
    # each candidate was evaluated on exactly one rank, and both ranks did work
    evaluated = [tuple(c) for r in ranks for c in r['mine']]
    assert sorted(evaluated) == sorted(r.candidate for r in single.records)
    assert ranks[0]['mine'] and ranks[1]['mine']
    assert (tmp_path / 'search' / 'search_state.json').is_file()
