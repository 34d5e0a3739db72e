"""Bench reports from finished runs: --finished-only (the table from the finished runs alone)
and --restore-from (an earlier results file's runs count as finished)."""
import itertools
import json
import math
import os.path as osp

import pytest
from helpers import load_script, run_tool

from detnas.experiments import (goal_verdict, logged_scalars, paired_ratio, paired_ratio_interval,
                                recorded_runs)
from detnas.utils.io import atomic_write_json


def _record(ap, ap_s):
    metrics = dict(AP=ap, AP50=2 * ap, AP75=ap / 2, AP_s=ap_s, AP_m=None, AP_l=ap)
    return dict(checkpoint='unused.pth', train_s=1.0, test_s=1.0, epochs=12, metrics=metrics)


def test_finished_only_reports_what_finished_and_pairs_deltas_by_seed(tiny_coco, tmp_path):
    work = tmp_path / 'runs'
    finished = {('baseline', 0): _record(0.30, 0.20), ('baseline', 1): _record(0.26, 0.10),
                ('safpn', 0): _record(0.27, 0.25)}  # safpn seed 1 never finished
    for (variant, seed), record in finished.items():
        atomic_write_json(str(work / f'fcos_{variant}_seed{seed}' / 'record.json'), record)
    (work / 'fcos_safpn_seed1').mkdir()  # an interrupted run leaves a folder, no record
    out = tmp_path / 'table'
    proc = run_tool(['bench/safpn_seqhead_ablation.py', '--finished-only', '--detectors',
                     'fcos', '--variants', 'baseline', 'safpn', '--seeds', '0', '1',
                     '--data-root', tiny_coco, '--work-dir', str(work), '--out', str(out),
                     '--shape', '128', '128', '--latency-runs', '1'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '[fcos safpn seed 1] not finished: left out' in proc.stdout
    assert f"[fcos baseline seed 1] finished run reused: {work / 'fcos_baseline_seed1'}" \
        in proc.stdout
    assert 'training' not in proc.stdout
    result = json.load(open(str(out) + '.json'))
    rows = {row['variant']: row for row in result['rows']}
    assert rows['baseline']['seeds'] == [0, 1] and rows['safpn']['seeds'] == [0]
    assert abs(rows['baseline']['AP'] - 0.28) < 1e-9
    assert abs(rows['baseline']['AP_std'] - 0.04 / 2 ** 0.5) < 1e-9
    # paired with baseline seed 0 only, not with the two-seed baseline mean
    assert abs(rows['safpn']['dAP'] - (0.27 - 0.30)) < 1e-9
    assert rows['safpn']['AP_m'] is None
    assert [r['seed'] for r in result['runs']] == [0, 0, 1]
    table = open(str(out) + '.md').read()
    assert 'finished runs only' in table
    assert '| fcos | FPN + parallel head | 0,1 | 28.0 ± 2.8 | - |' in table
    assert '| fcos | +SA-FPN | 0 | 27.0 | -3.0 |' in table


def test_restore_from_counts_earlier_results_as_finished_and_keeps_newer_runs(tiny_coco,
                                                                             tmp_path):
    earlier = tmp_path / 'earlier.json'
    runs = [dict(detector='fcos', variant=v, seed=s, config='c.py', **_record(ap, ap / 2))
            for (v, s), ap in {('baseline', 0): 0.30, ('safpn', 0): 0.27,
                               ('safpn', 1): 0.21}.items()]
    runs[2]['reused_from'] = 'first.json (the run that trained it)'
    atomic_write_json(str(earlier), dict(meta=dict(command='python x', date='2026-11-30'),
                                         rows=[], runs=runs))
    work = tmp_path / 'runs'
    # safpn seed 0 finished again here: its newer record wins over the earlier file's
    atomic_write_json(str(work / 'fcos_safpn_seed0' / 'record.json'), _record(0.33, 0.1))
    out = tmp_path / 'table'
    proc = run_tool(['bench/safpn_seqhead_ablation.py', '--finished-only', '--restore-from',
                     str(earlier), '--detectors', 'fcos', '--variants', 'baseline', 'safpn',
                     '--seeds', '0', '1', '--data-root', tiny_coco, '--work-dir', str(work),
                     '--out', str(out), '--shape', '128', '128', '--latency-runs', '1'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '[fcos_baseline_seed0] restored from' in proc.stdout
    assert '[fcos_safpn_seed0] restored' not in proc.stdout
    assert '[fcos baseline seed 1] not finished: left out' in proc.stdout
    result = json.load(open(str(out) + '.json'))
    by_run = {(r['variant'], r['seed']): r for r in result['runs']}
    assert sorted(by_run) == [('baseline', 0), ('safpn', 0), ('safpn', 1)]
    assert by_run[('safpn', 0)]['metrics']['AP'] == 0.33 and 'reused_from' not in by_run[
        ('safpn', 0)]
    assert by_run[('baseline', 0)]['reused_from'].endswith('(python x, 2026-11-30)')
    assert by_run[('safpn', 1)]['reused_from'] == 'first.json (the run that trained it)'
    rows = {row['variant']: row for row in result['rows']}
    assert abs(rows['safpn']['AP'] - 0.27) < 1e-9  # mean of 0.33 (seed 0) and 0.21 (seed 1)
    assert abs(rows['safpn']['dAP'] - 0.03) < 1e-9  # paired on seed 0 only

    broken = tmp_path / 'broken.json'
    broken.write_text('{"rows": []}')
    proc = run_tool(['bench/safpn_seqhead_ablation.py', '--finished-only', '--restore-from',
                     str(broken), '--detectors', 'fcos', '--data-root', tiny_coco,
                     '--work-dir', str(work), '--out', str(out)])
    assert proc.returncode != 0
    assert f'--restore-from {broken}: no per-run records of this bench' in proc.stderr


def test_demo_compare_restores_runs_and_keeps_ap_only_records_honest(tiny_coco, tmp_path):
    ap_only = dict(_record(0.05, None), metrics=dict(AP=0.05, AP50=None, AP75=None,
                                                      AP_s=None, AP_m=None, AP_l=None),
                   reused_from='old.json (per-seed AP only)')
    earlier = tmp_path / 'earlier.json'
    atomic_write_json(str(earlier), dict(command='python y', date='2026-12-01', runs=dict(
        seed=[dict(seed=0, **_record(0.09, 0.06)), dict(seed=1, **ap_only),
              dict(seed=2, **_record(0.5, 0.5))],  # seed 2 is not asked for
        other=[dict(seed=0, **_record(0.7, 0.7))])))  # nor is this config
    work = tmp_path / 'runs'
    out = tmp_path / 'cmp'
    proc = run_tool(['bench/demo_compare.py', 'seed=configs/baselines/retinanet_mbv2_fpn_demo.py',
                     '--finished-only', '--restore-from', str(earlier), '--seeds', '0', '1',
                     '--data-root', tiny_coco, '--work-dir', str(work), '--out', str(out),
                     '--shape', '128', '128', '--latency-runs', '1'])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert '[seed_seed0] restored from' in proc.stdout and 'seed_seed2' not in proc.stdout
    assert '[seed seed 1] finished run reused' in proc.stdout
    assert '[seed seed 1] AP 0.0500 (train 1 s)' in proc.stdout
    assert not (work / 'other_seed0').exists() and not (work / 'seed_seed2').exists()
    row = json.load(open(str(out) + '.json'))['rows'][0]
    assert row['seeds'] == [0, 1] and row['AP_per_seed'] == [0.09, 0.05]
    assert abs(row['AP'] - 0.07) < 1e-9
    assert row['AP50_per_seed'] == [0.18, None] and abs(row['AP50'] - 0.18) < 1e-9
    restored = json.load(open(work / 'seed_seed1' / 'record.json'))
    assert restored['reused_from'] == 'old.json (per-seed AP only)'


def test_guarded_arms_are_restored_only_from_the_same_recipe(tmp_path):
    """The mapping bench's rule: seed runs always count, mapped runs only when the results
    file was made with the same mapping settings."""
    settings = dict(arch=[[1, 16, 1, 1, 3]], refit=dict(absorb_dropped=True))
    runs = {arm: [dict(seed=s, **_record(0.01 * (s + 1), None)) for s in (0, 1, 2)]
            for arm in ('mapped', 'seed', 'random')}
    older_recipe = dict(settings, refit=dict(absorb_dropped=False))
    arms = {'mapped': 'm.py', 'seed': 's.py'}  # random is not asked for
    select = recorded_runs(arms, [0, 2], str(tmp_path), guarded=('mapped', ),
                           settings_key='mapping_settings', settings=settings)
    picked = [(osp.basename(d), r['metrics']['AP'])
              for d, r in select(dict(mapping_settings=older_recipe, runs=runs))]
    assert picked == [('seed_seed0', 0.01), ('seed_seed2', 0.03)]
    picked = [osp.basename(d) for d, _ in select(dict(runs=runs))]  # a file of before the
    assert picked == ['seed_seed0', 'seed_seed2']                 # recipe was recorded
    picked = [osp.basename(d) for d, _ in select(dict(mapping_settings=settings, runs=runs))]
    assert picked == ['mapped_seed0', 'mapped_seed2', 'seed_seed0', 'seed_seed2']


def _exact_bootstrap_quantile(num, den, q):
    """The q-quantile of the ratio of sums over all n**n equally likely paired resamples."""
    ratios = sorted(sum(num[i] for i in picks) / sum(den[i] for i in picks)
                    for picks in itertools.product(range(len(num)), repeat=len(num)))
    return ratios[math.ceil(q * len(ratios)) - 1]


def test_paired_ratio_interval_matches_the_exact_bootstrap_distribution():
    num, den = [0.071, 0.060, 0.093], [0.089, 0.114, 0.083]
    low, high = paired_ratio_interval(num, den, level=0.9)
    # 27 resamples: the 5 % / 95 % quantiles sit on atoms far from any probability jump
    assert low == pytest.approx(_exact_bootstrap_quantile(num, den, 0.05), abs=1e-12)
    assert high == pytest.approx(_exact_bootstrap_quantile(num, den, 0.95), abs=1e-12)
    assert low < sum(num) / sum(den) < high
    # every seed with the same ratio: nothing to move, the interval is that ratio
    same = paired_ratio_interval([0.8 * d for d in den + [0.05]], den + [0.05])
    assert same == pytest.approx((0.8, 0.8), abs=1e-12)
    assert paired_ratio_interval([0.1, 0.2], [0.2, 0.2]) is None  # two seeds: too few
    with pytest.raises(ValueError, match='3 numerators vs 2 denominators'):
        paired_ratio_interval(num, den[:2])


def test_paired_ratio_pairs_seeds_and_decides_the_goal_only_when_the_interval_does():
    def runs(mapped, seed):
        return dict(mapped=[dict(seed=s, **_record(ap, None)) for s, ap in mapped.items()],
                    seed=[dict(seed=s, **_record(ap, None)) for s, ap in seed.items()])

    seed_ap = {0: 0.09, 1: 0.11, 2: 0.08, 3: 0.06}
    paired = paired_ratio(  # seed 4 of mapped has no seed partner: left out
        runs({0: 0.085, 1: 0.10, 2: 0.078, 3: 0.058, 4: 0.2}, seed_ap), 'mapped', 'seed')
    assert paired['seeds'] == [0, 1, 2, 3]
    assert paired['ratio'] == pytest.approx(0.321 / 0.34)
    assert 0.9 <= paired['interval'][0] <= paired['ratio'] <= paired['interval'][1]
    assert goal_verdict(paired, 0.9).startswith('met')
    low = paired_ratio(runs({s: 0.5 * v for s, v in seed_ap.items()}, seed_ap), 'mapped',
                       'seed')
    assert goal_verdict(low, 0.9).startswith('not met')
    noisy = paired_ratio(
        runs({0: 0.071, 1: 0.060, 2: 0.093, 3: 0.070}, {0: 0.089, 1: 0.114, 2: 0.083, 3: 0.056}),
        'mapped', 'seed')
    assert noisy['interval'][0] < 0.9 < noisy['interval'][1]
    assert goal_verdict(noisy, 0.9) == 'not decided by these seeds (point estimate below 0.90)'
    two = paired_ratio(runs({0: 0.1, 1: 0.1}, seed_ap), 'mapped', 'seed')
    assert two['interval'] is None
    assert goal_verdict(two, 0.9).startswith('not decided')


def test_results_are_written_as_json_and_markdown_with_their_command(tmp_path):
    from detnas.experiments.results import run_header, write_results
    header = run_header('bench/x.py', ['--seeds', '0', '1'])
    assert header['command'] == 'python bench/x.py --seeds 0 1'
    result = dict(header, rows=[dict(name='a', ap=0.25)])
    table = write_results(str(tmp_path / 'out'), 'x', result,
                          lambda r: '\n'.join(f"| {row['name']} | {100 * row['ap']:.1f} |"
                                              for row in r['rows']) + '\n')
    assert table == '| a | 25.0 |\n'
    assert (tmp_path / 'out' / 'x.md').read_text() == table
    assert json.loads((tmp_path / 'out' / 'x.json').read_text()) == result


def test_training_start_reads_the_latest_scalars_log(tmp_path):
    """bench/training_start.py on a hand-written mmengine scalars log: the first iteration
    under the level, the early gradient mean and the last value; an older log is ignored."""
    rows = [dict(iter=10, loss=2.0, loss_cls=1.12, grad_norm=0.5),
            dict(iter=20, loss=1.9, loss_cls=1.05, grad_norm=1.5),
            dict(**{'coco/bbox_mAP': 0.1, 'step': 1}),
            dict(iter=30, loss=1.2, loss_cls=0.7, grad_norm=4.0),
            dict(iter=40, loss=1.0, loss_cls=0.5, grad_norm=3.0)]
    for stamp, content in (('20260101_000000', [dict(iter=10, loss_cls=0.1)]),
                           ('20260102_000000', rows)):
        folder = tmp_path / stamp / 'vis_data'
        folder.mkdir(parents=True)
        (folder / 'scalars.json').write_text('\n'.join(json.dumps(r) for r in content) + '\n')
    assert logged_scalars(str(tmp_path), 'loss_cls') == [(10, 1.12), (20, 1.05), (30, 0.7),
                                                         (40, 0.5)]
    summary = load_script('bench/training_start.py').training_start(str(tmp_path), 1.0, 25)
    assert summary == dict(first_loss_cls=1.12, first_iter_below=30, early_grad_norm=1.0,
                           last_loss_cls=0.5, last_iter=40)


def test_pareto_bench_compares_a_given_arch_with_the_uniform_curve_at_its_flops():
    """A --arch arm is judged like a searched one: against the uniform-scaling curve (uniform
    arms and the seed, per training seed) at its own FLOPs, and it gets its own table row."""
    bench = load_script('bench/pareto_vs_uniform.py')
    arms = {'uniform_width_0.5': dict(flops=100e6, ap_per_seed=[0.20, 0.22]),
            'seed': dict(flops=200e6, ap_per_seed=[0.40, 0.42]),
            'front150': dict(flops=150e6, ap_per_seed=[0.33, 0.34], ap=0.335)}
    curve = bench.uniform_curve_at(arms, arms['front150'])
    assert curve['ap_uniform_at_flops_per_seed'] == pytest.approx([0.30, 0.32])
    assert curve['difference_at_flops'] == pytest.approx(0.335 - 0.31)
    result = dict(command='c', machine='m', seeds=[0, 1], mode='width', seed_flops=200e6,
                  arms={}, budgets={}, given={'front150': dict(flops=150e6, ap=0.335, **curve)})
    row = [line for line in bench.to_markdown(result).splitlines()
           if line.startswith('| front150 |')]
    assert row and row[0].startswith('| front150 | 150 | 33.5 | 31.0 |')
    assert row[0].endswith('| - |')  # a given arch is a diagnostic, not judged by the goal
    with pytest.raises(Exception, match='NAME=ARCH.yaml'):
        bench.named_arch('uniform_x=arch.yaml')
    assert bench.named_arch('front588=a/b.yaml') == ('front588', 'a/b.yaml')


def test_pareto_bench_uses_a_slightly_costlier_uniform_arm_only_as_a_lower_bound():
    bench = load_script('bench/pareto_vs_uniform.py')
    searched = dict(flops=236e6, ap=0.2127, ap_per_seed=[0.210, 0.215, 0.213])
    costlier = dict(flops=240e6, ap=0.1957, ap_per_seed=[0.193, 0.199, 0.195])
    equal = dict(flops=237e6, ap=0.20, ap_per_seed=[0.20, 0.20, 0.20])
    row = bench.uniform_at_equal_flops({'uniform_a': costlier, 'searched_0.5': searched},
                                       searched)
    assert row['equal_flops_arm'] == 'uniform_a' and row['equal_flops_bound'] is True
    assert row['difference_equal_flops'] == pytest.approx(0.2127 - 0.1957)
    # an arm within 1 % is an equal-FLOPs comparison and wins over the costlier one
    row = bench.uniform_at_equal_flops({'uniform_a': costlier, 'uniform_b': equal}, searched)
    assert row['equal_flops_arm'] == 'uniform_b' and row['equal_flops_bound'] is False
    # the seed is uniform scaling at 1.0: an arch just under its FLOPs is compared with it
    row = bench.uniform_at_equal_flops({'seed': costlier}, searched)
    assert row['equal_flops_arm'] == 'seed' and row['equal_flops_bound'] is True
    # more than 5 % costlier, or cheaper by more than 1 %: no comparison
    assert bench.uniform_at_equal_flops({'uniform_c': dict(costlier, flops=249e6),
                                         'uniform_d': dict(costlier, flops=230e6)},
                                        searched) == {}
