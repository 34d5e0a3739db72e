"""Search state: atomic saving, exact resume after a kill, corrupt files, Pareto outputs."""
import csv
import json
import math
import os
import random

import pytest

from detnas.nas.evolution import (STATE_FILENAME, Constraint, EvolutionConfig,
                                  EvolutionSearch, Genome, SearchState, atomic_write_json,
                                  write_pareto)
from detnas.nas.evolution.pareto_report import front_2d
from detnas.nas.evolution.state import decode_rng, encode_rng
from detnas.utils.errors import DetnasInputError

GENERATIONS = 8


class Killed(Exception):
    """Stands in for a kill: raised inside evaluate during a chosen generation."""


def zdt1(candidate, levels=7):
    x = [gene / levels for gene in candidate]
    g = 1 + 9 * sum(x[1:]) / (len(x) - 1)
    return dict(f1=x[0], f2=g * (1 - math.sqrt(x[0] / g)), genes=sum(candidate))


def make_search(work_dir, kill_at_call=None, seen=None, **config):
    calls = []

    def evaluate(cands):
        calls.append(list(cands))
        if seen is not None:
            seen.extend(cands)
        if kill_at_call is not None and len(calls) == kill_at_call:
            raise Killed
        return [zdt1(c) for c in cands]

    cfg = dict(population_size=10, generations=GENERATIONS, seed=7)
    cfg.update(config)
    return EvolutionSearch(Genome([8] * 5), evaluate, ['f1', 'f2'], str(work_dir),
                           constraints=[Constraint('genes', 24)],
                           cost_fn=lambda c: dict(genes=sum(c)),
                           config=EvolutionConfig(**cfg))


def summary(result):
    return dict(records=[r.to_dict() for r in result.records],
                population=[r.candidate for r in result.population],
                front=[r.candidate for r in result.front], history=result.history)


@pytest.mark.parametrize('killed_generation', [1, 4, GENERATIONS])
def test_resume_after_kill_equals_uninterrupted(tmp_path, killed_generation):
    full = make_search(tmp_path / 'full').run()
    # evaluate is called once per generation (0 = initial population); call k + 1 is
    # generation k, so the kill loses generation k and the state holds generation k - 1.
    with pytest.raises(Killed):
        make_search(tmp_path / 'cut', kill_at_call=killed_generation + 1).run()
    saved = SearchState.load(str(tmp_path / 'cut'))
    assert saved.generation == killed_generation - 1
    before = {tuple(r['candidate']) for r in saved.records}
    rescored = []
    resumed = make_search(tmp_path / 'cut', seen=rescored).run(resume=True)
    assert summary(resumed) == summary(full)
    assert not before & set(rescored)  # the cache survived: nothing scored twice
    with open(tmp_path / 'full' / STATE_FILENAME) as f, \
            open(tmp_path / 'cut' / STATE_FILENAME) as g:
        assert json.load(f) == json.load(g)


def test_kill_during_initial_population_then_resume_starts_afresh(tmp_path):
    full = make_search(tmp_path / 'full').run()
    with pytest.raises(Killed):
        make_search(tmp_path / 'cut', kill_at_call=1).run()
    assert not (tmp_path / 'cut' / STATE_FILENAME).exists()
    assert summary(make_search(tmp_path / 'cut').run(resume=True)) == summary(full)


def test_resume_extends_a_finished_search(tmp_path):
    longer = make_search(tmp_path / 'a', generations=GENERATIONS + 3).run()
    make_search(tmp_path / 'b').run()
    extended = make_search(tmp_path / 'b', generations=GENERATIONS + 3).run(resume=True)
    assert summary(extended) == summary(longer)


def test_corrupt_or_truncated_state_is_a_clear_error(tmp_path):
    make_search(tmp_path, generations=2).run()
    path = tmp_path / STATE_FILENAME
    text = path.read_text()
    path.write_text(text[:len(text) // 2])
    with pytest.raises(DetnasInputError, match=rf'{path}.*corrupt or truncated.*delete it'):
        make_search(tmp_path).run(resume=True)
    for content in ('[1, 2]', '{}'):
        path.write_text(content)
        with pytest.raises(DetnasInputError, match=r'lacks .*--resume'):
            make_search(tmp_path).run(resume=True)
    state = json.loads(text)
    state['population'][0][0] = 99  # the genome has 8 choices per gene
    path.write_text(json.dumps(state))
    with pytest.raises(DetnasInputError, match=r"gene 'gene0' = 99 is outside 0..7.*--resume"):
        make_search(tmp_path).run(resume=True)
    with pytest.raises(DetnasInputError, match='no search state'):
        make_search(tmp_path).run(resume_from=str(tmp_path / 'elsewhere'))


def test_resume_with_other_settings_is_refused(tmp_path):
    make_search(tmp_path, generations=1).run()
    with pytest.raises(DetnasInputError, match=r'population_size: saved 10, now 12'):
        make_search(tmp_path, population_size=12).run(resume=True)


def test_atomic_write_and_rng_round_trip(tmp_path):
    path = tmp_path / 'sub' / 'state.json'
    atomic_write_json(str(path), {'a': [1, 2.5, None]})
    atomic_write_json(str(path), {'a': 2})
    assert json.loads(path.read_text()) == {'a': 2}
    assert os.listdir(tmp_path / 'sub') == ['state.json']  # no temp file left behind
    rng = random.Random(11)
    rng.random()
    copy = decode_rng(json.loads(json.dumps(encode_rng(rng))))
    assert [rng.random() for _ in range(5)] == [copy.random() for _ in range(5)]


def test_front_2d_keeps_what_nothing_beats_on_the_pair():
    rows = [dict(candidate=[i], metrics=dict(cost=c, ap=a)) for i, (c, a) in enumerate(
        [(3, 0.5), (1, 0.2), (2, 0.2), (2, 0.4), (4, 0.5), (5, 0.6), (1, 0.1)])]
    rows.append(dict(candidate=[9], metrics=dict(ap=0.9)))  # no cost: left out
    # (2, .2) loses to (2, .4); (4, .5) to (3, .5); (1, .1) to (1, .2)
    assert [r['candidate'][0] for r in front_2d(rows, 'cost', 'ap')] == [1, 3, 0, 5]


def test_write_pareto_outputs(tmp_path):
    result = make_search(tmp_path, generations=3).run()
    chosen = min(result.front, key=lambda r: r.metrics['f2'])
    paths = write_pareto(str(tmp_path / 'out'), result.front, result.records,
                         x_keys=('f1', 'unmeasured'), y_key='f2',
                         reference=dict(f1=0.5, f2=2.0), chosen=chosen,
                         describe=lambda c: {'depth': c[0]})
    data = json.loads(open(paths['json']).read())
    # one panel: no record has 'unmeasured'; its 2-D front is front_2d of all records
    want = front_2d([r.to_dict() for r in result.records], 'f1', 'f2')
    assert list(data['front_2d']) == ['f1']
    assert data['front_2d']['f1'] == [list(r['candidate']) for r in want]
    assert [tuple(r['candidate']) for r in data['front']] == [r.candidate for r in result.front]
    assert [r['chosen'] for r in data['front']].count(True) == 1
    assert data['reference']['metrics'] == {'f1': 0.5, 'f2': 2.0}
    assert data['front'][0]['arch'] == {'depth': result.front[0].candidate[0]}
    rows = list(csv.DictReader(open(paths['csv'])))
    assert len(rows) == len(result.front)
    assert float(rows[0]['f2']) == result.front[0].metrics['f2']
    with open(paths['png'], 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    assert os.path.getsize(paths['png']) > 10000
