"""Compare detector configs on the demo data: AP over seeds, params, FLOPs, CPU latency.

    python bench/demo_compare.py NAME=CONFIG [NAME=CONFIG ...] --out bench/results/NAME
        [--seeds 0 1 2] [--max-epochs N] [--data-root data/demo_coco]
        [--work-dir work_dirs/bench_compare] [--shape 320 320] [--latency-runs 30] [--tiny]
        [--finished-only] [--restore-from RESULTS.json]

Every config is trained with its own schedule by the train tool for each seed and its last
checkpoint evaluated on the demo val split (:mod:`.runner`). Finished runs are
reused, so runs shared between comparisons (same NAME and seed under the same --work-dir)
train once; ``--finished-only`` trains nothing and reports the finished runs alone (each
row lists its seeds). ``--restore-from`` first counts the runs recorded in an earlier
OUT.json (its ``runs``) as finished where the work dir holds none, for a machine whose
``work_dirs`` are gone; each restored run names its origin in ``reused_from``. Writes
OUT.json (per-seed values, means, costs, command, machine) and OUT.md.
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
import time

from .costs import measure_costs
from .data import ensure_demo_data
from .runner import (FINISHED_ONLY_NOTE, METRICS, experiment_config, recorded_runs,
                     restore_runs, run_or_reuse, seconds_text)
from .stats import mean_std


def named_configs(parser: argparse.ArgumentParser, items) -> dict:
    """``['NAME=CONFIG', ...]`` -> ``{NAME: CONFIG}``; a parser error for a malformed item
    or a config file that does not exist."""
    pairs = [c.split('=', 1) for c in items]
    bad = [c for c, p in zip(items, pairs) if len(p) != 2 or not osp.isfile(p[1])]
    if bad:
        parser.error(f'expected NAME=CONFIG with an existing config file, got {bad}')
    return dict(pairs)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+', metavar='NAME=CONFIG')
    parser.add_argument('--out', required=True, help='output prefix (OUT.json, OUT.md)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--max-epochs', type=int, help="override the configs' schedules")
    parser.add_argument('--data-root', default='data/demo_coco')
    parser.add_argument('--work-dir', default='work_dirs/bench_compare')
    parser.add_argument('--shape', type=int, nargs=2, default=(320, 320), metavar=('H', 'W'))
    parser.add_argument('--latency-runs', type=int, default=30)
    parser.add_argument('--tiny', action='store_true',
                        help='pipeline check: 8 generated images, 1 epoch, batch 2')
    parser.add_argument('--finished-only', action='store_true',
                        help='report the runs already finished; trains nothing')
    parser.add_argument('--restore-from', metavar='RESULTS.json',
                        help="count the runs of an earlier OUT.json (its 'runs') as finished "
                        'where the work dir holds no record')
    args = parser.parse_args(argv)
    args.configs = named_configs(parser, args.configs)
    if args.tiny:
        args.max_epochs = args.max_epochs or 1
        args.work_dir = args.work_dir.rstrip('/') + '_tiny'
        args.data_root = osp.join(args.work_dir, 'data')
    return args


def main(argv=None):
    args = parse_args(argv)
    import torch
    data_root = ensure_demo_data(args.data_root, tiny=args.tiny)
    if args.restore_from:
        restore_runs(args.restore_from, recorded_runs(args.configs, args.seeds, args.work_dir))
    runs = {name: [] for name in args.configs}
    for seed in args.seeds:
        for name, config in args.configs.items():
            run_dir = osp.join(args.work_dir, f'{name}_seed{seed}')
            record = run_or_reuse(
                f'{name} seed {seed}', run_dir, finished_only=args.finished_only,
                make_cfg=lambda: experiment_config(config, seed, data_root, args.max_epochs,
                                                   args.tiny))
            if record is not None:
                runs[name].append(dict(seed=seed, **record))
    costs = measure_costs(args.configs, tuple(args.shape), args.latency_runs)
    rows = []
    for name, config in args.configs.items():
        row = dict(name=name, config=osp.relpath(osp.abspath(config)),
                   seeds=[r['seed'] for r in runs[name]],
                   epochs=runs[name][0]['epochs'] if runs[name] else None, **costs[name])
        for metric in METRICS:
            values = [r['metrics'][metric] for r in runs[name]]
            row[metric], row[metric + '_std'] = mean_std(values)
            row[metric + '_per_seed'] = values
        row['train_s'] = mean_std([r['train_s'] for r in runs[name]])[0]
        rows.append(row)
    cli = sys.argv[1:] if argv is None else list(argv)
    result = dict(command=' '.join(['python', 'bench/demo_compare.py', *cli]),
                  machine=f'{platform.machine()}, {os.cpu_count()} CPUs, '
                          f'torch {torch.__version__}, {torch.get_num_threads()} threads',
                  date=time.strftime('%Y-%m-%d'), data=data_root, seeds=args.seeds,
                  finished_only=args.finished_only,
                  shape=list(args.shape), rows=rows, runs=runs)
    print(write(result, args.out))
    return result


def write(result: dict, out: str) -> str:
    """Writes OUT.json and OUT.md; returns the markdown table."""
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out + '.json', 'w') as f:
        json.dump(result, f, indent=2)
    table = markdown(result)
    with open(out + '.md', 'w') as f:
        f.write(table)
    return table


def markdown(r: dict) -> str:
    def pct(row, metric):
        mean, std = row[metric], row[metric + '_std']
        return 'n/a' if mean is None else f'{100 * mean:.1f} ± {100 * std:.1f}'
    h, w = r['shape']
    partial = FINISHED_ONLY_NOTE if r.get('finished_only') else ''
    lines = [f'Demo data (generated, not COCO), each config with its own schedule, seeds '
             f'{r["seeds"]}{partial}, mean ± std. Params / GFLOPs (2 x MACs) / latency at '
             f'{h}x{w}; '
             f'latency = median CPU time of the tensor forward (batch 1, no NMS); '
             f'{r["machine"]}.', '',
             '| model | seeds | epochs | AP | AP50 | AP_s | AP_m | AP_l | params (M) | GFLOPs '
             '| latency (ms) | train per run |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for row in r['rows']:
        seeds = ','.join(map(str, row.get('seeds', r['seeds'])))
        lines.append(f'| {row["name"]} | {seeds} | {row["epochs"]} | '
                     + ' | '.join(pct(row, m) for m in ('AP', 'AP50', 'AP_s', 'AP_m', 'AP_l'))
                     + f' | {row["params"] / 1e6:.2f} | {row["gflops"]:.2f} '
                     f'| {row["latency_ms"]:.1f} | {seconds_text(row["train_s"])} |')
    lines += ['', f'Command: `{r["command"]}`', '']
    return '\n'.join(lines)
