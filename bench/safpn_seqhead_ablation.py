#!/usr/bin/env python
"""SA-FPN / Seq-Head ablation on the demo data: 4 variants x 2 detectors x N seeds.

    python bench/safpn_seqhead_ablation.py [--detectors retinanet fcos]
        [--variants baseline safpn seqhead both] [--seeds 0 1 2] [--max-epochs N]
        [--data-root data/demo_coco/] [--work-dir work_dirs/safpn_seqhead_ablation]
        [--out bench/results/safpn_seqhead] [--latency-runs 30] [--force] [--tiny]
        [--finished-only] [--restore-from RESULTS.json]

Every run trains ``configs/safpn_seqhead/<detector>_mbv2_<variant>_demo.py`` (the baseline
variant: ``configs/baselines/<detector>_mbv2_fpn_demo.py``) with
``tools/train.py`` (same schedule for all, seed set through ``randomness.seed``), then
evaluates the *last* checkpoint with ``tools/test.py`` on the demo val split (no
best-checkpoint picking: val is the only held-out split). Params and FLOPs come from
``detnas.utils.complexity.model_complexity`` at the demo image size; latency is the median
CPU time of the raw tensor forward (no NMS), measured round-robin over the variants so that
machine load drifts hit all of them alike. Runs whose ``record.json`` exists are
reused, so an interrupted ablation resumes where it stopped (``--force`` retrains);
``--finished-only`` writes the table from the finished runs alone and trains nothing (the
table's Seeds column says which seeds each row has). ``--restore-from`` first counts the
runs recorded in an earlier results file (e.g. the committed
``bench/results/safpn_seqhead.json``) as finished, for a machine whose ``work_dirs`` are gone:
only the runs missing from both are trained, and each restored run names its origin in
``reused_from``.

Writes ``<out>.json`` (every run, the aggregate, the command) and ``<out>.md`` (the table).
``--tiny`` checks the pipeline in minutes: 8 generated images, 1 epoch, batch 2.
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
import time
from typing import Dict, List, Optional

from detnas.experiments import (FINISHED_ONLY_NOTE, ensure_demo_data, experiment_config,
                                mean_std, measure_costs, restore_runs, run_or_reuse)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

CONFIG_DIR = osp.join(REPO, 'configs')
DETECTORS = ('retinanet', 'fcos')
VARIANTS = {
    'baseline': 'baselines/{det}_mbv2_fpn_demo.py',
    'safpn': 'safpn_seqhead/{det}_mbv2_safpn_demo.py',
    'seqhead': 'safpn_seqhead/{det}_mbv2_fpn_seqhead_demo.py',
    'both': 'safpn_seqhead/{det}_mbv2_safpn_seqhead_demo.py',
    'safpn_topdown': 'safpn_seqhead/{det}_mbv2_safpn_topdown_demo.py',
}
DEFAULT_VARIANTS = ('baseline', 'safpn', 'seqhead', 'both')
VARIANT_LABELS = dict(baseline='FPN + parallel head', safpn='+SA-FPN', seqhead='+Seq-Head',
                      both='+SA-FPN +Seq-Head', safpn_topdown='+SA-FPN (top-down init)')
METRICS = ('AP', 'AP50', 'AP75', 'AP_s', 'AP_m', 'AP_l')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--detectors', nargs='+', choices=DETECTORS, default=list(DETECTORS))
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS),
                        default=list(DEFAULT_VARIANTS),
                        help='the paper\'s four by default; safpn_topdown is our follow-up')
    parser.add_argument('--seeds', nargs='+', type=int, default=None,
                        help='training seeds (default 0 1 2; 0 with --tiny)')
    parser.add_argument('--max-epochs', type=int, default=None,
                        help="override the configs' schedule length (default: the config's)")
    parser.add_argument('--data-root', default='data/demo_coco/',
                        help='demo data folder (made with tools/dataset/make_demo_coco.py)')
    parser.add_argument('--work-dir', default='work_dirs/safpn_seqhead_ablation')
    parser.add_argument('--out', default='bench/results/safpn_seqhead',
                        help='output prefix: writes OUT.json and OUT.md')
    parser.add_argument('--shape', type=int, nargs=2, default=(320, 320), metavar=('H', 'W'),
                        help='input size for FLOPs and latency (the demo image size)')
    parser.add_argument('--latency-runs', type=int, default=30)
    parser.add_argument('--force', action='store_true', help='retrain finished runs')
    parser.add_argument('--finished-only', action='store_true',
                        help='table from the runs already finished; trains nothing')
    parser.add_argument('--restore-from', metavar='RESULTS.json',
                        help="count the runs of an earlier results file (this script's "
                        '--out JSON) as finished where the work dir holds no record')
    parser.add_argument('--tiny', action='store_true',
                        help='pipeline check: tiny generated data, 1 epoch, batch 2')
    args = parser.parse_args(argv)
    if args.seeds is None:
        args.seeds = [0] if args.tiny else [0, 1, 2]
    if args.tiny:
        args.max_epochs = args.max_epochs or 1
        if args.work_dir == parser.get_default('work_dir'):
            args.work_dir = 'work_dirs/safpn_seqhead_ablation_tiny'
        if args.out == parser.get_default('out'):
            args.out = osp.join(args.work_dir, 'safpn_seqhead_tiny')
    if args.max_epochs is not None and args.max_epochs < 1:
        parser.error(f'--max-epochs must be at least 1, got {args.max_epochs}')
    if args.latency_runs < 1:
        parser.error(f'--latency-runs must be at least 1, got {args.latency_runs}')
    return args


def config_path(det: str, variant: str) -> str:
    return osp.join(CONFIG_DIR, VARIANTS[variant].format(det=det))


def run_dir_of(work_dir: str, det: str, variant: str, seed: int) -> str:
    return osp.join(work_dir, f'{det}_{variant}_seed{seed}')


def runs_to_restore(args):
    """``restore_runs``' selector: this ablation's (run folder, record) pairs in an earlier
    results file of this script."""
    def select(results):
        for run in results['runs']:
            record = dict(run)
            det, variant, seed = (record.pop(k) for k in ('detector', 'variant', 'seed'))
            record.pop('config', None)
            if det in args.detectors and variant in args.variants and seed in args.seeds:
                yield run_dir_of(args.work_dir, det, variant, seed), record
    return select


def run_one(det: str, variant: str, seed: int, args, data_root: str) -> Optional[Dict]:
    """One run of the ablation (reused when finished, unless --force).

    With ``--finished-only`` a run that has not finished is reported and skipped (None).
    """
    config = config_path(det, variant)
    record = run_or_reuse(
        f'{det} {variant} seed {seed}', run_dir_of(args.work_dir, det, variant, seed),
        finished_only=args.finished_only, force=args.force,
        make_cfg=lambda: experiment_config(config, seed, data_root, args.max_epochs, args.tiny))
    if record is None:
        return None
    return dict(detector=det, variant=variant, seed=seed,
                config=osp.relpath(config, REPO), **record)


def aggregate(records: List[Dict], costs: Dict, detectors, variants) -> List[Dict]:
    rows = []
    for det in detectors:
        by_seed = {r['seed']: r for r in records if r['detector'] == det
                   and r['variant'] == 'baseline'}
        for variant in variants:
            runs = [r for r in records if r['detector'] == det and r['variant'] == variant]
            row = dict(detector=det, variant=variant, seeds=sorted(r['seed'] for r in runs),
                       **costs[(det, variant)])
            for name in METRICS:
                row[name], row[name + '_std'] = mean_std([r['metrics'][name] for r in runs])
            # paired by seed against the baseline: the same data order and initialisation
            deltas = [r['metrics']['AP'] - by_seed[r['seed']]['metrics']['AP'] for r in runs
                      if r['seed'] in by_seed and r['metrics']['AP'] is not None
                      and by_seed[r['seed']]['metrics']['AP'] is not None]
            row['dAP'], row['dAP_std'] = mean_std(deltas) if variant != 'baseline' else (
                None, None)
            rows.append(row)
    return rows


def fmt(value, std=None, digits=1):
    """A COCO fraction as a percentage, with its std when there is one."""
    if value is None:
        return 'n/a'
    text = f'{100 * value:.{digits}f}'
    return text + (f' ± {100 * std:.{digits}f}' if std else '')


def markdown(rows: List[Dict], meta: Dict) -> str:
    partial = FINISHED_ONLY_NOTE if meta.get('finished_only') else ''
    lines = [
        f'SA-FPN / Seq-Head ablation on the **demo data** ({meta["data"]}), '
        f'{meta["schedule"]}, seeds {meta["seeds"]}{partial}; mean ± std over seeds; '
        'ΔAP is paired by seed against the baseline. Params / GFLOPs / latency at '
        f'{meta["shape"][0]}x{meta["shape"][1]}, latency = median CPU time of the tensor '
        f'forward (no NMS), {meta["threads"]} threads.',
        '',
        '| Detector | Variant | Seeds | AP | ΔAP | AP50 | AP_s | AP_m | AP_l | Params (M) '
        '| GFLOPs | Latency (ms) |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in rows:
        lines.append(
            f'| {r["detector"]} | {VARIANT_LABELS[r["variant"]]} '
            f'| {",".join(map(str, r["seeds"]))} | {fmt(r["AP"], r["AP_std"])} '
            f'| {fmt(r["dAP"], r["dAP_std"]) if r["variant"] != "baseline" else "-"} '
            f'| {fmt(r["AP50"], r["AP50_std"])} | {fmt(r["AP_s"], r["AP_s_std"])} '
            f'| {fmt(r["AP_m"], r["AP_m_std"])} | {fmt(r["AP_l"], r["AP_l_std"])} '
            f'| {r["params"] / 1e6:.3f} | {r["gflops"]:.3f} | {r["latency_ms"]:.1f} |')
    lines += ['', f'Command: `{meta["command"]}`', '']
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    import torch
    for det in args.detectors:
        for variant in args.variants:
            if not osp.isfile(config_path(det, variant)):
                raise FileNotFoundError(f'missing config {config_path(det, variant)}')
    if args.tiny:
        data_root = ensure_demo_data(osp.join(args.work_dir, 'data'), tiny=True)
    else:
        data_root = osp.abspath(args.data_root).rstrip('/') + '/'
        if not osp.isfile(osp.join(data_root, 'annotations', 'instances_train.json')):
            raise FileNotFoundError(
                f'no demo data in {data_root}; make it with: python '
                f'tools/dataset/make_demo_coco.py --out {args.data_root}')
    if args.restore_from:
        restore_runs(args.restore_from, runs_to_restore(args))
    records = [run_one(det, variant, seed, args, data_root)
               for seed in args.seeds for det in args.detectors for variant in args.variants]
    records = [r for r in records if r is not None]
    pairs = [(d, v) for d in args.detectors for v in args.variants]
    costs = measure_costs({pair: config_path(*pair) for pair in pairs}, args.shape,
                          args.latency_runs)
    rows = aggregate(records, costs, args.detectors, args.variants)
    with open(osp.join(data_root, 'annotations', 'instances_val.json')) as f:
        num_val = len(json.load(f)['images'])
    epochs = args.max_epochs or 'config'
    cli = sys.argv[1:] if argv is None else list(argv)
    meta = dict(
        command=' '.join(['python', osp.relpath(osp.abspath(__file__), REPO)] + cli),
        data=f'{"tiny generated set" if args.tiny else args.data_root}, {num_val} val images',
        schedule=f'{epochs} epochs' if args.max_epochs else 'the configs\' schedule '
                 '(12 epochs, batch 8)',
        seeds=args.seeds, finished_only=args.finished_only, shape=list(args.shape),
        threads=torch.get_num_threads(),
        torch=torch.__version__, machine=f'{platform.machine()}, {os.cpu_count()} CPUs',
        date=time.strftime('%Y-%m-%d %H:%M'))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out + '.json', 'w') as f:
        json.dump(dict(meta=meta, rows=rows, runs=records), f, indent=2)
    table = markdown(rows, meta)
    with open(args.out + '.md', 'w') as f:
        f.write(table)
    print(table)
    return rows


if __name__ == '__main__':
    main()
