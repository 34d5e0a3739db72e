#!/usr/bin/env python
"""The main job on the embedded default: demo data -> train from the ImageNet seed -> COCO eval.

    python tools/demo.py [--config configs/baselines/retinanet_mbv2_fpn_demo.py]
        [--data-root data/demo_coco] [--work-dir work_dirs/demo] [--seed 0] [--force]

Makes the demo data set if it is missing, trains the config with tools/train.py, evaluates
the last checkpoint with tools/test.py and prints a result table (COCO AP on the demo val
split, params, FLOPs, CPU latency). The summary lands in WORK_DIR/summary.{json,md}; a
finished run is reused unless --force.
"""
import argparse
import json
import os
import os.path as osp
import time

DEFAULT_CONFIG = 'configs/baselines/retinanet_mbv2_fpn_demo.py'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='detector config to train')
    parser.add_argument('--data-root', default='data/demo_coco', help='demo data folder')
    parser.add_argument('--work-dir', default='work_dirs/demo', help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='training seed')
    parser.add_argument('--shape', type=int, nargs=2, default=(320, 320), metavar=('H', 'W'),
                        help='input size for FLOPs and latency')
    parser.add_argument('--force', action='store_true', help='retrain a finished run')
    return parser.parse_args()


def main():
    args = parse_args()
    import torch
    from detnas.evaluation.coco_eval import format_table
    from detnas.utils.errors import DetnasInputError
    from detnas.utils.experiment import (ensure_demo_data, experiment_config, measure_costs,
                                         train_and_test)
    if not osp.isfile(args.config):
        raise DetnasInputError(f'config {args.config!r} does not exist')
    start = time.time()
    print(f'[demo] data: {args.data_root}', flush=True)
    data_root = ensure_demo_data(args.data_root)
    name = osp.splitext(osp.basename(args.config))[0]
    run_dir = osp.join(args.work_dir, f'{name}_seed{args.seed}')
    print(f'[demo] training {args.config} (seed {args.seed}) in {run_dir}', flush=True)
    cfg = experiment_config(args.config, args.seed, data_root)
    record = train_and_test(cfg, run_dir, force=args.force, echo=True)
    print('[demo] measuring params, FLOPs and CPU latency', flush=True)
    costs = measure_costs({name: args.config}, tuple(args.shape))[name]
    m = record['metrics']
    pct = lambda v: 'n/a' if v is None else f'{100 * v:.1f}'  # noqa: E731
    header = ['model', 'AP', 'AP50', 'AP75', 'AP_s', 'AP_m', 'AP_l', 'params (M)',
              'GFLOPs', f'latency (ms, {torch.get_num_threads()} threads)']
    row = [name, *(pct(m[k]) for k in ('AP', 'AP50', 'AP75', 'AP_s', 'AP_m', 'AP_l')),
           f'{costs["params"] / 1e6:.2f}', f'{costs["gflops"]:.2f}',
           f'{costs["latency_ms"]:.1f}']
    table = format_table([row], header)
    summary = dict(config=args.config, seed=args.seed, data_root=data_root, record=record,
                   costs=costs, shape=list(args.shape), total_s=round(time.time() - start))
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    with open(osp.join(args.work_dir, 'summary.md'), 'w') as f:
        f.write(f'Demo data (generated), {record["epochs"]} epochs, seed {args.seed}; '
                f'GFLOPs = 2 x MACs at {args.shape[0]}x{args.shape[1]}\n\n{table}\n')
    print(f'\n[demo] COCO bbox metrics on the demo val split (generated data, not COCO), '
          f'{record["epochs"]} epochs, train {record["train_s"]:.0f} s:\n{table}\n'
          f'[demo] total {summary["total_s"]} s; summary in {args.work_dir}/summary.md')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
