"""The main job on the embedded default: demo data -> seed detector -> backbone adaptation
search -> fine-tune the chosen architecture -> COCO eval of both.

    python tools/demo.py [--config configs/search/gfocalv2_mbv2_search_demo.py]
        [--data-root data/demo_coco] [--work-dir work_dirs/demo] [--seed 0] [--no-search]
        [--force]

CONFIG is a detector config whose backbone is a pretrained seed; with a ``search`` section
(the default) the demo also adapts the backbone with tools/search.py and fine-tunes the
chosen architecture from the exported checkpoint on the same schedule. Makes the demo data
set if it is missing, trains with tools/train.py, evaluates the last checkpoints with
tools/test.py and prints a table (COCO AP on the demo val split, params, FLOPs, CPU latency;
seed vs adapted). The summary lands in WORK_DIR/summary.{json,md}; finished runs are reused
unless --force.
"""
import argparse
import json
import os
import os.path as osp
import time

DEFAULT_CONFIG = 'configs/search/gfocalv2_mbv2_search_demo.py'
METRIC_KEYS = ('AP', 'AP50', 'AP75', 'AP_s', 'AP_m', 'AP_l')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='seed detector config (with a search section to adapt it)')
    parser.add_argument('--data-root', default='data/demo_coco', help='demo data folder')
    parser.add_argument('--work-dir', default='work_dirs/demo', help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='training and search seed')
    parser.add_argument('--no-search', action='store_true',
                        help='only train and evaluate the seed detector')
    parser.add_argument('--shape', type=int, nargs=2, default=(320, 320), metavar=('H', 'W'),
                        help='input size for FLOPs and latency')
    parser.add_argument('--force', action='store_true', help='retrain finished runs')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.config import Config
    from detnas.evaluation.coco_eval import format_table
    from detnas.experiments import (ensure_demo_data, experiment_config, measure_costs,
                                    search_and_export, train_and_test)
    from detnas.utils.errors import DetnasInputError
    if not osp.isfile(args.config):
        raise DetnasInputError(f'config {args.config!r} does not exist')
    search = not args.no_search and 'search' in Config.fromfile(args.config)
    start = time.time()
    print(f'[demo] data: {args.data_root}', flush=True)
    data_root = ensure_demo_data(args.data_root)
    name = osp.splitext(osp.basename(args.config))[0]

    def fine_tune(arm, config):
        run_dir = osp.join(args.work_dir, f'{name}_{arm}_seed{args.seed}')
        print(f'[demo] training the {arm} detector {config} (seed {args.seed}) in {run_dir}',
              flush=True)
        return train_and_test(experiment_config(config, args.seed, data_root), run_dir,
                              force=args.force, echo=True)

    configs = dict(seed=args.config)
    records = dict(seed=fine_tune('seed', args.config))
    summary = dict(config=args.config, seed=args.seed, data_root=data_root,
                   shape=list(args.shape))
    if search:
        search_dir = osp.join(args.work_dir, f'{name}_search_seed{args.seed}')
        print(f'[demo] adapting the backbone: tools/search.py {args.config} in {search_dir}',
              flush=True)
        found = search_and_export(args.config, args.seed, data_root, search_dir, echo=True)
        configs['adapted'] = found['chosen_config']
        records['adapted'] = fine_tune('adapted', found['chosen_config'])
        summary['search'] = dict(dir=search_dir, wall_s=found['wall_s'],
                                 chosen_arch=found['chosen']['arch'],
                                 timings=found['timings'])
    print('[demo] measuring params, FLOPs and CPU latency', flush=True)
    costs = measure_costs(configs, tuple(args.shape))
    pct = lambda v: 'n/a' if v is None else f'{100 * v:.1f}'  # noqa: E731
    header = ['backbone', *METRIC_KEYS, 'params (M)', 'GFLOPs',
              f'latency (ms, {torch.get_num_threads()} threads)', 'train (s)']
    rows = [[arm, *(pct(records[arm]['metrics'][k]) for k in METRIC_KEYS),
             f'{costs[arm]["params"] / 1e6:.2f}', f'{costs[arm]["gflops"]:.2f}',
             f'{costs[arm]["latency_ms"]:.1f}', f'{records[arm]["train_s"]:.0f}']
            for arm in configs]
    table = format_table(rows, header)
    epochs = records['seed']['epochs']
    summary.update(records=records, costs=costs, total_s=round(time.time() - start))
    note = (f'\nSearch: {summary["search"]["wall_s"]:.0f} s; the adapted detector is '
            'fine-tuned from the checkpoint exported by the search.\n' if search else '')
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    with open(osp.join(args.work_dir, 'summary.md'), 'w') as f:
        f.write(f'Demo data (generated), {epochs} epochs, seed {args.seed}; '
                f'GFLOPs = 2 x MACs at {args.shape[0]}x{args.shape[1]}\n\n{table}\n{note}')
    print(f'\n[demo] COCO bbox metrics on the demo val split (generated data, not COCO), '
          f'{epochs} epochs:\n{table}\n{note}'
          f'[demo] total {summary["total_s"]} s; summary in {args.work_dir}/summary.md')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
