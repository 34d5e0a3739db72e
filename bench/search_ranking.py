#!/usr/bin/env python
"""Does the supernet rank candidates the way stand-alone training does?

Picks ``--count`` architectures of the search space spread over its FLOPs range (the seed,
the largest, the smallest, and one per equal-width FLOPs bin between them), then

* **stand-alone**: fine-tunes each from the seed's weights mapped into it (+ the refit,
  :mod:`detnas.experiments.standalone`) on the demo schedule, for every ``--seeds``,
  evaluated on a large val split (``--num-val`` images, so evaluation noise is small);
* **proxies**: for each supernet recipe of ``--proxies`` (:data:`PROXIES`: search-setting
  overrides), trains the supernet with the search pipeline's own stages and scores every
  architecture as the search does (BN recalibration, held-out AP);

and reports Kendall's tau and Spearman's rho between each proxy and the mean stand-alone
AP, over all archs and within the archs below the seed's FLOPs.

    python bench/search_ranking.py [--count 12] [--seeds 0 1] [--proxies baseline distill]

Writes ``<out>/search_ranking.{json,md}`` (``kendall_tau``, ``spearman`` of the default
proxy, every proxy's, ``archs`` with per-arch values). Finished fine-tunes and supernets are
reused. Results are on generated demo data, not COCO.
"""
import argparse
import json
import os
import os.path as osp
import random
import time

from mmengine.config import Config

from detnas.experiments import (ensure_demo_data, experiment_config, kendall_tau, mean_std,
                                run_or_reuse, spearman_rho)
from detnas.experiments.results import run_header, write_results
from detnas.experiments.standalone import standalone_config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEARCH_CONFIG = osp.join(ROOT, 'configs/search/gfocalv2_mbv2_search_demo.py')
SEED = 'detnas://mobilenet_v2_imagenet'
SHAPE = (320, 320)
# supernet recipes (overrides of the search config's ``search`` section)
PROXIES = {
    'baseline': {},
    'distill': {'supernet.distill_weight': 1.0},
    'longer': {'supernet.max_epochs': 12},
    'heldout40': {'heldout_fraction': 0.4},  # twice the held-out images, fewer trained on
}


def biased_sample(space, rng: random.Random, size: float) -> dict:
    """A random arch whose every gene leans to its larger choices with ``size`` in [0, 1]
    (0.5: uniform genes)."""
    genes = []
    for n in space.gene_choices:
        u = rng.random()
        u = u ** (1 / (2 * size)) if size > 0.5 else 1 - (1 - u) ** (1 / (2 * (1 - size)))
        genes.append(min(n - 1, int(u * n)))
    return space.decode(genes)


def ranking_archs(family, count: int, seed: int, pool: int = 600) -> dict:
    """The seed, the largest, the smallest and ``count - 3`` archs, one per equal-width FLOPs
    bin between the smallest and the largest (from a pool sampled with every size bias).

    Args:
        family: the bound family (its space and fixed backbones).
        count: how many archs.
        seed: seed of the pool.
        pool: archs sampled to choose from.
    """
    from detnas.utils.complexity import model_complexity
    space = family.space

    def flops(arch):
        return float(model_complexity(family.build_fixed_backbone(arch), SHAPE)['macs'])

    named = dict(seed=space.seed_arch(), largest=space.validate(space.largest()),
                 smallest=space.validate(space.smallest()))
    lo, hi = flops(named['smallest']), flops(named['largest'])
    rng = random.Random(seed)
    seen = {space.fingerprint(a) for a in named.values()}
    sampled = []
    for i in range(pool):
        arch = biased_sample(space, rng, (i % 20 + 0.5) / 20)
        key = space.fingerprint(arch)
        if key not in seen:
            seen.add(key)
            sampled.append((flops(arch), arch))
    bins = count - 3
    edges = [lo + (hi - lo) * b / bins for b in range(bins + 1)]
    for b in range(bins):
        centre = (edges[b] + edges[b + 1]) / 2
        inside = [t for t in sampled if edges[b] <= t[0] < edges[b + 1]] or sampled
        pick = min(inside, key=lambda t: abs(t[0] - centre))
        sampled.remove(pick)
        named[f'arch{b:02d}'] = pick[1]
    return {name: dict(arch=arch, flops=flops(arch)) for name, arch in named.items()}


def proxy_scores(cfg: Config, overrides: dict, archs: dict, work_dir: str) -> dict:
    """Trains the supernet of ``cfg`` with ``overrides`` through the search's own stages
    (split, supernet) and scores every arch as the evolution would.

    Returns:
        name -> the held-out metrics of the arch, plus ``supernet_s``.
    """
    from detnas.datasets import load_batches
    from detnas.nas.pipeline import SearchPlan
    from detnas.nas.pipeline.scoring import HeldoutEvaluator
    from detnas.nas.pipeline.stages import (SearchRun, _eval_model, split_stage,
                                            supernet_stage)
    from mmengine.registry import init_default_scope
    cfg = Config(cfg.to_dict())
    cfg.merge_from_dict({f'search.{k}': v for k, v in overrides.items()})
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    plan = SearchPlan.from_config(cfg, work_dir, seed=0, resume=True)
    run = SearchRun(plan)
    split_stage(run)
    wall_file = osp.join(work_dir, 'supernet_wall.json')
    trained_before = osp.isfile(plan.supernet_checkpoint)
    start = time.time()
    supernet_stage(run)
    if not trained_before:
        with open(wall_file, 'w') as f:
            json.dump(dict(wall_s=round(time.time() - start, 1)), f)
    bn = plan.settings.bn_calibration
    calib, _ = load_batches(plan.split_dataset_cfg(run.split.train_ann_file), bn.batch_size,
                            bn.num_batches * bn.batch_size, plan.seed)
    heldout, meta = load_batches(plan.split_dataset_cfg(run.split.heldout_ann_file),
                                 plan.settings.eval_batch_size)
    evaluator = HeldoutEvaluator(_eval_model(plan.supernet_cfg, plan.supernet_checkpoint),
                                 calib, heldout, run.split.heldout_ann_file, meta)
    out = {name: evaluator(a['arch']) for name, a in archs.items()}
    # training time of the supernet (None: trained before the time was recorded)
    out['supernet_s'] = json.load(open(wall_file))['wall_s'] if osp.isfile(wall_file) else None
    return out


def correlations(proxy: dict, truth: dict, names) -> dict:
    """Kendall's tau and Spearman's rho of proxy vs stand-alone AP over ``names``."""
    names = [n for n in names if n in proxy and truth.get(n) is not None]
    x = [proxy[n]['bbox_mAP'] for n in names]
    y = [truth[n] for n in names]
    return dict(n=len(names), kendall_tau=kendall_tau(x, y), spearman=spearman_rho(x, y))


def tau_per_seed(proxy: dict, runs: dict, seeds) -> dict:
    """Kendall's tau of proxy vs each training seed's stand-alone AP alone (``runs``: arch ->
    finished runs, each with its ``seed``); archs that seed has not finished are left out."""
    out = {}
    for seed in seeds:
        truth = {n: next((r['metrics']['AP'] for r in rs if r['seed'] == seed), None)
                 for n, rs in runs.items()}
        out[str(seed)] = correlations(proxy, truth, runs)['kendall_tau']
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', default=SEARCH_CONFIG, help='search config')
    p.add_argument('--count', type=int, default=12, help='architectures (>= 4)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--proxies', nargs='+', choices=list(PROXIES), default=['baseline'])
    p.add_argument('--standalone-only', action='store_true', help='no proxies')
    p.add_argument('--train-only', nargs='+', metavar='ARCH',
                   help='fine-tune only these archs (e.g. to split the work over two '
                   'processes); the others are reported if finished')
    p.add_argument('--finished-only', action='store_true',
                   help='train no stand-alone run: use the finished ones (proxies still run)')
    p.add_argument('--data-root', default=osp.join(ROOT, 'data/demo_coco_val400'))
    p.add_argument('--num-val', type=int, default=400)
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs/search_ranking'))
    p.add_argument('--out', default=osp.join(ROOT, 'bench/results'))
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from detnas.nas.pipeline import SearchPlan
    data_root = ensure_demo_data(args.data_root, num_val=args.num_val)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict({k: v for k, v in (o.split('=', 1) for o in _data_options(data_root))})
    plan = SearchPlan.from_config(cfg, args.work_dir)
    archs_file = osp.join(args.work_dir, 'archs.json')
    if osp.isfile(archs_file):
        with open(archs_file) as f:
            archs = json.load(f)
    else:
        archs = ranking_archs(plan.family, args.count, 0)
        os.makedirs(args.work_dir, exist_ok=True)
        with open(archs_file, 'w') as f:
            json.dump(archs, f, indent=1)
    folder = osp.join(args.work_dir, 'standalone')
    base = osp.join(args.work_dir, 'seed_detector.py')
    plan.seed_cfg.dump(base)
    runs = {name: [] for name in archs}
    for seed in args.seeds:
        for name, a in archs.items():
            cfg_path = standalone_config(base, plan.family.fixed_backbone_config(a['arch']),
                                         SEED, osp.join(data_root, 'train'), folder, name)
            skip = args.train_only is not None and name not in args.train_only
            record = run_or_reuse(f'{name} seed {seed}', osp.join(folder, f'{name}_seed{seed}'),
                                  lambda: experiment_config(cfg_path, seed, data_root),
                                  finished_only=args.finished_only or skip)
            if record is not None:
                runs[name].append(dict(seed=seed, **record))
    truth = {n: mean_std([r['metrics']['AP'] for r in rs])[0] for n, rs in runs.items()}
    proxies = {} if args.standalone_only else {
        p: proxy_scores(cfg, PROXIES[p], archs, osp.join(args.work_dir, f'proxy_{p}'))
        for p in args.proxies}
    seed_flops = archs['seed']['flops']
    below = [n for n, a in archs.items() if a['flops'] <= seed_flops]
    result = dict(
        run_header('bench/search_ranking.py', argv), data=data_root, seeds=args.seeds,
        archs={n: dict(a, ap_standalone=truth[n],
                       ap_per_seed=[r['metrics']['AP'] for r in runs[n]],
                       proxy={p: s[n] for p, s in proxies.items()})
               for n, a in archs.items()},
        proxies={p: dict(overrides=PROXIES[p], supernet_s=s['supernet_s'],
                         all=correlations(s, truth, archs),
                         per_seed=tau_per_seed(s, runs, args.seeds),
                         below_seed=correlations(s, truth, below))
                 for p, s in proxies.items()})
    # the yardstick a proxy must beat: rank by FLOPs alone, no training at all
    by_flops = {n: dict(bbox_mAP=a['flops']) for n, a in archs.items()}
    result['flops_only'] = dict(all=correlations(by_flops, truth, archs),
                                per_seed=tau_per_seed(by_flops, runs, args.seeds),
                                below_seed=correlations(by_flops, truth, below))
    if proxies:
        first = result['proxies'][args.proxies[0]]['all']
        result.update(kendall_tau=first['kendall_tau'], spearman=first['spearman'],
                      proxy=args.proxies[0])
    print(write_results(args.out, 'search_ranking', result, to_markdown))
    return result


def _data_options(data_root):
    from detnas.experiments import data_root_options
    return data_root_options(data_root)


def to_markdown(r: dict) -> str:
    proxies = list(r['proxies'])
    lines = ['# Search ranking: supernet proxy vs stand-alone fine-tune (demo data, generated '
             '— not COCO)', '', f"Command: `{r['command']}`; {r['machine']}; stand-alone "
             f"seeds {r['seeds']}, evaluated on {r['data']}.", '',
             '| ' + ' | '.join(['arch', 'MFLOPs', 'stand-alone AP', 'per seed',
                                 *(f'proxy {p}' for p in proxies)]) + ' |',
             '|' + '---|' * (4 + len(proxies))]
    for name, a in sorted(r['archs'].items(), key=lambda t: t[1]['flops']):
        ap = a['ap_standalone']
        cells = [name, f"{a['flops'] / 1e6:.0f}", 'n/a' if ap is None else f'{100 * ap:.1f}',
                 ', '.join(f'{100 * v:.1f}' for v in a['ap_per_seed']),
                 *(f"{100 * a['proxy'][p]['bbox_mAP']:.1f}" for p in proxies)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', '| proxy | overrides | tau (all) | tau per seed | rho (all) | '
              'tau (<= seed FLOPs) | rho (<= seed FLOPs) | supernet (s) |',
              '|---|---|---|---|---|---|---|---|']
    num = lambda v: 'n/a' if v is None else f'{v:.2f}'  # noqa: E731
    secs = lambda v: 'n/a' if v is None else f'{v:.0f}'  # noqa: E731
    rows = dict(r['proxies'], **({'FLOPs alone (no supernet)': dict(
        r['flops_only'], overrides=None, supernet_s=0)} if 'flops_only' in r else {}))
    for p, v in rows.items():
        per_seed = ', '.join(f'{num(t)} (seed {s})' for s, t in v.get('per_seed', {}).items())
        lines.append(f"| {p} | {v['overrides'] or '-'} | {num(v['all']['kendall_tau'])} | "
                     f"{per_seed or 'n/a'} | {num(v['all']['spearman'])} | "
                     f"{num(v['below_seed']['kendall_tau'])} | "
                     f"{num(v['below_seed']['spearman'])} | {secs(v['supernet_s'])} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
