"""The main job on the embedded default: adapt the ImageNet seed to the demo data for a
budget, and compare it with the seed and with the seed scaled uniformly to the same cost.

    python tools/demo.py [--config configs/search/gfocalv2_mbv2_width_search_demo.py]
        [--budget 'flops<=0.5*seed'] [--epochs 5] [--supernet-epochs 2] [--population 8]
        [--generations 4]
        [--data-root data/demo_coco] [--work-dir work_dirs/demo] [--seed 0] [--force]

1. the demo data set (made when missing);
2. in parallel: the **seed** detector fine-tuned, and the **search** (supernet initialised
   from the seed, NSGA-II under the budget constraint, held-out AP);
3. in parallel: the **adapted** detector (the searched architecture) and the **uniform**
   detector (the seed scaled uniformly by its width multiplier to the adapted one's FLOPs,
   widths in multiples of 2 so the two land within a few per cent), each started from the
   seed's weights mapped into it, fine-tuned on the same schedule as the seed -- so the
   table compares architectures, not extra training;
4. COCO evaluation of the last checkpoints on the val split, params, FLOPs, CPU latency.

The default search is the width space (per-stage channels and per-block expansion) at half
the seed's backbone FLOPs, where ``bench/pareto_vs_uniform.py`` measured the searched
architecture above uniform scaling on 5 seeds. The schedule is the demo's cut to
``--epochs`` (5; ``bench/`` measures on the full 12 epochs). A status line with each
job's epoch and ETA is printed every 30 s. Finished runs are reused unless ``--force``; the
summary lands in WORK_DIR/summary.{json,md}.
"""
import argparse
import json
import os
import os.path as osp
import time
from concurrent.futures import ThreadPoolExecutor

DEFAULT_CONFIG = 'configs/search/gfocalv2_mbv2_width_search_demo.py'
METRIC_KEYS = ('AP', 'AP50', 'AP_s', 'AP_m', 'AP_l')
SEED_CHECKPOINT = 'detnas://mobilenet_v2_imagenet'
UNIFORM_DIVISOR = 2  # widths of the uniform arm: fine steps, so its FLOPs match the adapted


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='search config: the seed detector plus a search section')
    parser.add_argument('--budget', default='flops<=0.5*seed',
                        help="the adapted backbone's budget, a search constraint such as "
                        "'flops<=0.75*seed' or 'latency_ms<=0.75*seed'")
    parser.add_argument('--epochs', type=int, default=5, help='fine-tune epochs of every arm')
    parser.add_argument('--supernet-epochs', type=int, default=2)
    parser.add_argument('--population', type=int, default=8, help='NSGA-II population')
    parser.add_argument('--generations', type=int, default=4, help='NSGA-II generations')
    parser.add_argument('--data-root', default='data/demo_coco', help='demo data folder')
    parser.add_argument('--work-dir', default='work_dirs/demo', help='output folder')
    parser.add_argument('--seed', type=int, default=0, help='training and search seed')
    parser.add_argument('--shape', type=int, nargs=2, default=(320, 320), metavar=('H', 'W'),
                        help='input size for FLOPs and latency')
    parser.add_argument('--no-search', action='store_true',
                        help='only the seed detector (also for a config without a search '
                        'section)')
    parser.add_argument('--force', action='store_true', help='retrain finished runs')
    return parser.parse_args(argv)


def search_options(args) -> list:
    """``--cfg-options`` of the demo's search: the budget and a short supernet phase and
    evolution."""
    return [f"search.constraints=['{args.budget}']",
            f'search.supernet.max_epochs={args.supernet_epochs}',
            f'search.evolution.population_size={args.population}',
            f'search.evolution.generations={args.generations}']


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.config import Config

    from detnas.evaluation.coco_eval import format_table
    from detnas.experiments import (ensure_demo_data, experiment_config, measure_costs,
                                    search_and_export, train_and_test)
    from detnas.experiments.progress import ProgressMonitor
    from detnas.experiments.standalone import standalone_config
    from detnas.nas.pipeline import SearchPlan
    from detnas.nas.scaling import scale_to_flops
    from detnas.utils.errors import DetnasInputError
    if not osp.isfile(args.config):
        raise DetnasInputError(f'config {args.config!r} does not exist')
    start = time.time()
    # two jobs at a time: each gets half the cores
    os.environ.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 2) // 2)))
    print(f'[demo] data: {args.data_root}', flush=True)
    data_root = ensure_demo_data(args.data_root)
    work = osp.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    cfg = Config.fromfile(args.config)
    search = not args.no_search and 'search' in cfg
    plan = SearchPlan.from_config(cfg, osp.join(work, 'search')) if search else None
    base = osp.join(work, 'seed_detector.py')
    (plan.seed_cfg if search else cfg).dump(base)
    run_dir = {arm: osp.join(work, f'{arm}_seed{args.seed}')
               for arm in ('seed', 'adapted', 'uniform')}
    search_dir = osp.join(work, f'search_seed{args.seed}')

    def fine_tune(arm, config):
        cfg = experiment_config(config, args.seed, data_root, max_epochs=args.epochs)
        return train_and_test(cfg, run_dir[arm], force=args.force)

    def phase(label, jobs, logs):
        print(f'[demo] {label}: {", ".join(jobs)} (in parallel)', flush=True)
        with ProgressMonitor('demo', logs), ThreadPoolExecutor(len(jobs)) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            return {name: f.result() for name, f in futures.items()}

    train_log = lambda arm: (osp.join(run_dir[arm], 'train.log'), args.epochs)  # noqa: E731
    if not search:
        records = phase('seed fine-tune', dict(seed=lambda: fine_tune('seed', base)),
                        dict(seed=train_log('seed')))
        configs, names, found = dict(seed=base), dict(seed='seed'), None
    else:
        first = phase('seed fine-tune and search', dict(
            seed=lambda: fine_tune('seed', base),
            search=lambda: search_and_export(args.config, args.seed, data_root, search_dir,
                                             options=search_options(args))),
            dict(seed=train_log('seed'), search=(osp.join(search_dir, 'search_run.log'),
                                                 None)))
        found = first['search']
        chosen = found['chosen']['arch']
        uniform = scale_to_flops(plan.family, found['chosen']['metrics']['flops'],
                                 plan.settings.image_size, divisor=UNIFORM_DIVISOR)
        backbones = dict(uniform=uniform.backbone,
                         adapted=plan.family.fixed_backbone_config(chosen))
        configs = dict(seed=base, uniform=None, adapted=None)  # the table's row order

        def map_and_fine_tune(arm):
            # the seed mapped into the arm (+ the refit), beside the other arm's
            configs[arm] = standalone_config(base, backbones[arm], SEED_CHECKPOINT,
                                             osp.join(data_root, 'train'), work, arm)
            return fine_tune(arm, configs[arm])

        second = phase('mapping and fine-tuning the adapted and uniform backbones', dict(
            adapted=lambda: map_and_fine_tune('adapted'),
            uniform=lambda: map_and_fine_tune('uniform')),
            dict(adapted=train_log('adapted'), uniform=train_log('uniform')))
        records = dict(seed=first['seed'], **second)
        names = dict(seed='seed', uniform=f'uniform (width x{uniform.width:.2f})',
                     adapted=f'adapted ({args.budget})')
    print('[demo] measuring params, FLOPs and CPU latency', flush=True)
    costs = measure_costs(configs, tuple(args.shape))
    pct = lambda v: 'n/a' if v is None else f'{100 * v:.1f}'  # noqa: E731
    header = ['backbone', *METRIC_KEYS, 'params (M)', 'GFLOPs',
              f'latency (ms, {torch.get_num_threads()} threads)']
    rows = [[names[arm], *(pct(records[arm]['metrics'][k]) for k in METRIC_KEYS),
             f'{costs[arm]["params"] / 1e6:.2f}', f'{costs[arm]["gflops"]:.2f}',
             f'{costs[arm]["latency_ms"]:.1f}'] for arm in configs]
    table = format_table(rows, header)
    total = round(time.time() - start)
    summary = dict(config=args.config, seed=args.seed, epochs=args.epochs,
                   data_root=data_root, shape=list(args.shape), records=records,
                   costs=costs, total_s=total)
    note = ''
    if search:
        summary.update(budget=args.budget, chosen_arch=chosen,
                       uniform=dict(width=uniform.width, flops=uniform.flops),
                       search=dict(dir=search_dir, wall_s=found['wall_s'],
                                   timings=found['timings'],
                                   chosen_vs_seed=found.get('chosen_vs_seed')))
        note = (f'\nAll three start from the ImageNet seed (mapped into the adapted and '
                f'uniform backbones) and train {args.epochs} epochs; the search took '
                f'{found["wall_s"]:.0f} s. One training seed: differences of about a point '
                'are within the seed-to-seed spread (bench/pareto_vs_uniform.py measures '
                'with 3 seeds on the full schedule).\n')
    with open(osp.join(work, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    with open(osp.join(work, 'summary.md'), 'w') as f:
        f.write(f'Demo data (generated), {args.epochs} epochs, seed {args.seed}; GFLOPs = 2 x '
                f'MACs of the detector at {args.shape[0]}x{args.shape[1]}\n\n{table}\n{note}')
    print(f'\n[demo] COCO bbox metrics on the demo val split (generated data, not COCO):\n'
          f'{table}\n{note}[demo] total {total} s; summary in {work}/summary.md')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
