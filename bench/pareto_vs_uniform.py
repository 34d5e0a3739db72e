#!/usr/bin/env python
"""Does a searched backbone beat the seed scaled uniformly to the same FLOPs?

For every budget (a fraction of the seed backbone's FLOPs) the bench compares, on the demo
schedule and the same training seeds:

* ``uniform``: the seed scaled uniformly to the budget (``--mode width``: MobileNetV2's
  width multiplier; ``compound``: EfficientNet-style width and depth,
  :mod:`detnas.nas.scaling`), the seed's weights mapped into it (+ the refit);
* ``searched``: the architecture ``tools/search.py`` chooses under ``flops<=BUDGET*seed``,
  the seed's weights mapped into it the same way (so neither arm has had more training);
* ``seed``: the seed detector itself (budget 1.0).

    python bench/pareto_vs_uniform.py [--budgets 0.5 0.75] [--seeds 0 1 2]
        [--data-root data/demo_coco_val400] [--arms seed uniform searched]

Writes ``<out>/pareto_vs_uniform.{json,md,png}`` (per budget ``ap_searched``,
``ap_uniform``, ``flops_searched``, ``flops_uniform``, per-seed values, a paired interval of
the difference). Results are on generated demo data, not COCO.
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
import time

from mmengine.config import Config

from detnas.experiments import ensure_demo_data, experiment_config, mean_std, run_or_reuse
from detnas.experiments.standalone import standalone_config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEARCH_CONFIG = osp.join(ROOT, 'configs/search/gfocalv2_mbv2_search_demo.py')
SEED = 'detnas://mobilenet_v2_imagenet'
SHAPE = (320, 320)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', default=SEARCH_CONFIG, help='search config (seed detector)')
    p.add_argument('--budgets', type=float, nargs='+', default=[0.5, 0.75])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--mode', choices=('width', 'compound'), default='width')
    p.add_argument('--arms', nargs='+', choices=('seed', 'uniform', 'searched'),
                   default=['seed', 'uniform', 'searched'])
    p.add_argument('--data-root', default=osp.join(ROOT, 'data/demo_coco_val400'))
    p.add_argument('--num-val', type=int, default=400,
                   help='val images when the data root is made (evaluation noise)')
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs/pareto_vs_uniform'))
    p.add_argument('--out', default=osp.join(ROOT, 'bench/results'))
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from detnas.nas.pipeline import SearchPlan
    from detnas.nas.scaling import scale_to_flops
    from detnas.utils.complexity import model_complexity
    data_root = ensure_demo_data(args.data_root, num_val=args.num_val)
    plan = SearchPlan.from_config(Config.fromfile(args.config), args.work_dir)
    family = plan.family
    seed_flops = float(model_complexity(family.build_fixed_backbone(family.space.seed_arch()),
                                        SHAPE)['macs'])
    base = osp.join(args.work_dir, 'seed_detector.py')
    os.makedirs(args.work_dir, exist_ok=True)
    plan.seed_cfg.dump(base)
    arms = {}
    if 'seed' in args.arms:
        arms['seed'] = dict(budget=1.0, config=base, flops=seed_flops)
    for budget in args.budgets:
        if 'uniform' in args.arms:
            u = scale_to_flops(family, budget * seed_flops, SHAPE, args.mode)
            name = f'uniform_{args.mode}_{budget:g}'
            arms[name] = dict(budget=budget, flops=u.flops, width=u.width, depth=u.depth,
                              config=standalone_config(base, u.backbone, SEED,
                                                       osp.join(data_root, 'train'),
                                                       args.work_dir, name))
    runs = {name: [] for name in arms}
    for seed in args.seeds:
        for name, arm in arms.items():
            record = run_or_reuse(f'{name} seed {seed}',
                                  osp.join(args.work_dir, f'{name}_seed{seed}'),
                                  lambda: experiment_config(arm['config'], seed, data_root))
            runs[name].append(dict(seed=seed, **record))
    result = dict(command=' '.join(['python', 'bench/pareto_vs_uniform.py', *(
        sys.argv[1:] if argv is None else argv)]), date=time.strftime('%Y-%m-%d'),
        machine=f'{platform.machine()}, {os.cpu_count()} CPUs', data=data_root,
        seed_flops=seed_flops, arms=arms, runs=runs)
    for name in arms:
        aps = [r['metrics']['AP'] for r in runs[name]]
        arms[name].update(ap=mean_std(aps)[0], ap_std=mean_std(aps)[1], ap_per_seed=aps)
    os.makedirs(args.out, exist_ok=True)
    with open(osp.join(args.out, 'pareto_vs_uniform.json'), 'w') as f:
        json.dump(result, f, indent=1)
    for name, arm in arms.items():
        print(f"{name}: {arm['flops'] / 1e6:.1f} MFLOPs, AP {arm['ap']:.4f} "
              f"({', '.join(f'{v:.3f}' for v in arm['ap_per_seed'])})")
    return result


if __name__ == '__main__':
    main()
