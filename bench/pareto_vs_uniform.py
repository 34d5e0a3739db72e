#!/usr/bin/env python
"""Does a searched backbone beat the seed scaled uniformly to the same FLOPs?

For every budget (a fraction of the seed backbone's FLOPs) the bench compares, on the demo
schedule and the same training seeds:

* ``uniform``: the seed scaled uniformly to the budget (``--mode width``: MobileNetV2's
  width multiplier; ``compound``: EfficientNet-style width and depth,
  :mod:`detnas.nas.scaling`), the seed's weights mapped into it (+ the refit);
* ``searched``: the architecture ``tools/search.py`` chooses under ``flops<=BUDGET*seed``
  (search seed 0), the seed's weights mapped into it the same way (so neither arm has had
  more training than the other);
* ``seed``: the seed detector itself (budget 1.0);
* ``--arch NAME=FILE``: any architecture of the config's space (an arch yaml such as a
  search's ``chosen.yaml``), mapped and fine-tuned the same way and compared with the
  uniform-scaling curve at its own FLOPs.

    python bench/pareto_vs_uniform.py [--budgets 0.5 0.75] [--seeds 0 1 2]
        [--data-root data/demo_coco_val400] [--arms seed uniform searched]
        [--config configs/search/gfocalv2_mbv2_width_search_demo.py]
        [--uniform-budgets 0.432 0.5] [--arch NAME=ARCH.yaml ...]

Writes ``<out>/pareto_vs_uniform.{json,md,png}`` (per budget ``ap_searched``,
``ap_uniform``, ``flops_searched``, ``flops_uniform``, per-seed values, a paired interval of
the difference). Results are on generated demo data, not COCO.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config

from detnas.experiments import (concave_bound_at, curve_at, ensure_demo_data,
                                experiment_config, mean_std, measure_costs,
                                paired_difference_interval, run_or_reuse, search_and_export)
from detnas.experiments.results import run_header, write_results
from detnas.experiments.standalone import standalone_config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SEARCH_CONFIG = osp.join(ROOT, 'configs/search/gfocalv2_mbv2_search_demo.py')
SEED = 'detnas://mobilenet_v2_imagenet'
SHAPE = (320, 320)
GOAL = 0.015  # the target: searched beats uniform by >= 1.5 AP
LEVEL = 0.9  # coverage of the paired interval over training seeds


def uniform_budget(text: str) -> tuple:
    """``'0.5'`` -> ``(0.5, 8)``; ``'0.432:2'`` -> ``(0.432, 2)``."""
    budget, _, divisor = text.partition(':')
    try:
        return float(budget), int(divisor or 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r}: give BUDGET or BUDGET:DIVISOR, e.g. '
                                         '0.5 or 0.432:2') from None


def named_arch(text: str) -> tuple:
    """``'front588=arch.yaml'`` -> ``('front588', 'arch.yaml')``."""
    name, sep, path = text.partition('=')
    if not (sep and name and path) or name in ('seed', 'searched', 'uniform') or \
            name.startswith(('uniform_', 'searched_')):
        raise argparse.ArgumentTypeError(
            f'{text!r}: give NAME=ARCH.yaml, NAME not seed and not starting with uniform or '
            'searched, e.g. front588=work_dirs/search/chosen.yaml')
    return name, path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', default=SEARCH_CONFIG, help='search config (seed detector)')
    p.add_argument('--budgets', type=float, nargs='+', default=[0.5, 0.75])
    p.add_argument('--uniform-budgets', type=uniform_budget, nargs='+',
                   metavar='BUDGET[:DIVISOR]',
                   help='budgets of the uniform arms (default: --budgets); e.g. the searched '
                   "arch's own FLOPs share, for a comparison at exactly equal FLOPs. "
                   ':DIVISOR rounds that arm\'s widths to multiples of DIVISOR instead of 8 '
                   '(e.g. 0.432:2 reaches FLOPs between the steps of 8)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--mode', choices=('width', 'compound'), default='width')
    p.add_argument('--arms', nargs='*', choices=('seed', 'uniform', 'searched'),
                   default=['seed', 'uniform', 'searched'],
                   help='the built-in arms to run (none: only the --arch arms)')
    p.add_argument('--arch', type=named_arch, nargs='+', default=[], metavar='NAME=ARCH.yaml',
                   help="more arms: architectures of the config's space (arch yaml files)")
    p.add_argument('--data-root', default=osp.join(ROOT, 'data/demo_coco_val400'))
    p.add_argument('--num-val', type=int, default=400,
                   help='val images when the data root is made (evaluation noise)')
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs/pareto_vs_uniform'))
    p.add_argument('--supernet-from', metavar='DIR',
                   help="a finished search's supernet folder (<work>/search/supernet) that "
                   'every budget reuses (the supernet does not depend on the budget)')
    p.add_argument('--out', default=osp.join(ROOT, 'bench/results'))
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from detnas.nas.pipeline import SearchPlan
    from detnas.nas.scaling import scale_to_flops
    from detnas.nas.space import load_arch_yaml
    from detnas.utils.complexity import model_complexity
    plan = SearchPlan.from_config(Config.fromfile(args.config), args.work_dir)
    family = plan.family
    given = {name: load_arch_yaml(path, family.space) for name, path in args.arch}
    data_root = ensure_demo_data(args.data_root, num_val=args.num_val)
    backbone_flops = lambda arch: float(model_complexity(  # noqa: E731
        family.build_fixed_backbone(arch), SHAPE)['macs'])
    seed_flops = backbone_flops(family.space.seed_arch())
    base = osp.join(args.work_dir, 'seed_detector.py')
    os.makedirs(args.work_dir, exist_ok=True)
    plan.seed_cfg.dump(base)
    arms = {}
    if 'seed' in args.arms:
        arms['seed'] = dict(budget=1.0, config=base, flops=seed_flops)
    uniform_budgets = dict(args.uniform_budgets or [(b, 8) for b in args.budgets])
    for budget in sorted(set(args.budgets) | set(uniform_budgets)):
        if 'uniform' in args.arms and budget in uniform_budgets and budget != 1.0:
            # at 1.0 the uniform arm is the seed
            divisor = uniform_budgets[budget]
            u = scale_to_flops(family, budget * seed_flops, SHAPE, args.mode,
                               divisor=divisor)
            name = f'uniform_{args.mode}_{budget:g}' + ('' if divisor == 8 else f'_d{divisor}')
            arms[name] = dict(budget=budget, flops=u.flops, width=u.width, depth=u.depth,
                              config=standalone_config(base, u.backbone, SEED,
                                                       osp.join(data_root, 'train'),
                                                       args.work_dir, name))
        if 'searched' in args.arms and budget in args.budgets:
            name = f'searched_{budget:g}'
            search_dir = osp.join(args.work_dir, f'search_{budget:g}')
            if args.supernet_from and not osp.exists(osp.join(search_dir, 'search',
                                                              'supernet')):
                os.makedirs(osp.join(search_dir, 'search'), exist_ok=True)
                os.symlink(osp.abspath(args.supernet_from),
                           osp.join(search_dir, 'search', 'supernet'))
            found = search_and_export(
                args.config, 0, data_root, search_dir,
                options=[f"search.constraints=['flops<={budget!r}*seed']"],
                resume=bool(args.supernet_from))
            arch = found['chosen']['arch']
            arms[name] = dict(budget=budget, flops=found['chosen']['metrics']['flops'],
                              arch=arch, search_s=found['wall_s'],
                              heldout=found['chosen']['metrics'],
                              config=standalone_config(
                                  base, family.fixed_backbone_config(arch), SEED,
                                  osp.join(data_root, 'train'), args.work_dir, name))
    for name, arch in given.items():
        flops = backbone_flops(arch)
        arms[name] = dict(budget=round(flops / seed_flops, 4), flops=flops, arch=arch,
                          config=standalone_config(base, family.fixed_backbone_config(arch),
                                                   SEED, osp.join(data_root, 'train'),
                                                   args.work_dir, name))
    runs = {name: [] for name in arms}
    for seed in args.seeds:
        for name, arm in arms.items():
            record = run_or_reuse(f'{name} seed {seed}',
                                  osp.join(args.work_dir, f'{name}_seed{seed}'),
                                  lambda: experiment_config(arm['config'], seed, data_root))
            runs[name].append(dict(seed=seed, **record))
    costs = measure_costs({n: a['config'] for n, a in arms.items()}, SHAPE)
    for name, arm in arms.items():
        aps = [r['metrics']['AP'] for r in runs[name]]
        arm.update(ap=mean_std(aps)[0], ap_std=mean_std(aps)[1], ap_per_seed=aps,
                   latency_ms=costs[name]['latency_ms'], gflops=costs[name]['gflops'],
                   params=costs[name]['params'])
    budgets = {}
    for budget in args.budgets:
        row = dict(budget=budget)
        for kind in ('searched', 'uniform'):
            name = f'{kind}_{budget:g}' if kind == 'searched' else \
                'seed' if budget == 1.0 else f'uniform_{args.mode}_{budget:g}'
            if name in arms:
                row.update({f'ap_{kind}': arms[name]['ap'],
                            f'ap_{kind}_per_seed': arms[name]['ap_per_seed'],
                            f'flops_{kind}': arms[name]['flops'],
                            f'latency_{kind}': arms[name]['latency_ms']})
        if 'ap_searched' in row and 'ap_uniform' in row:
            row['difference'] = row['ap_searched'] - row['ap_uniform']
            row['difference_interval'] = paired_difference_interval(
                row['ap_searched_per_seed'], row['ap_uniform_per_seed'], LEVEL)
        searched = arms.get(f'searched_{budget:g}')
        if searched is not None:
            row.update(uniform_curve_at(arms, searched))
            row.update(uniform_at_equal_flops(arms, searched))
        budgets[f'{budget:g}'] = row
    given_rows = {name: dict(flops=arms[name]['flops'], ap=arms[name]['ap'],
                             **uniform_curve_at(arms, arms[name]),
                             **uniform_at_equal_flops(arms, arms[name])) for name in given}
    result = dict(
        run_header('bench/pareto_vs_uniform.py', argv), data=data_root,
        config=args.config, seeds=args.seeds, mode=args.mode, seed_flops=seed_flops,
        budgets=budgets, given=given_rows, arms=arms, runs=runs)
    table = write_results(args.out, 'pareto_vs_uniform', result, to_markdown)
    plot(result, osp.join(args.out, 'pareto_vs_uniform.png'))
    print(table)
    return result


def uniform_at_equal_flops(arms: dict, searched: dict, tolerance: float = 0.01,
                           costlier_within: float = 0.05) -> dict:
    """The searched arm against a uniform arm (or the seed) trained at its FLOPs (within
    ``tolerance``,
    e.g. one placed there with a finer width divisor): the paired difference per seed.
    Where uniform scaling has no net that close (its widths move in steps), the cheapest
    uniform arm costing at most ``costlier_within`` more stands in: as uniform AP rises
    with FLOPs, that difference is a lower bound of the one at equal FLOPs
    (``equal_flops_bound`` True).

    Args:
        arms: the bench's arms.
        searched: the searched arm.
        tolerance: the largest relative FLOPs difference that counts as equal.
        costlier_within: the largest relative FLOPs excess of a stand-in arm.
    """
    gaps = {n: a['flops'] / searched['flops'] - 1 for n, a in arms.items()
            if n.startswith('uniform') or n == 'seed'}  # the seed: uniform scaling at 1.0
    near = [n for n, gap in gaps.items() if abs(gap) <= tolerance]
    costlier = [n for n, gap in gaps.items() if 0 <= gap <= costlier_within]
    if not (near or costlier):
        return {}
    name = min(near, key=lambda n: abs(gaps[n])) if near else min(costlier, key=gaps.get)
    uniform = arms[name]
    return dict(equal_flops_arm=name, equal_flops_bound=not near,
                ap_uniform_equal_flops=uniform['ap'],
                flops_uniform_equal_flops=uniform['flops'],
                difference_equal_flops=searched['ap'] - uniform['ap'],
                difference_equal_flops_interval=paired_difference_interval(
                    searched['ap_per_seed'], uniform['ap_per_seed'], LEVEL))


def uniform_curve_at(arms: dict, searched: dict) -> dict:
    """The searched arm against the uniform-scaling curve at its own FLOPs, per training
    seed (AP vs FLOPs through the uniform arms and the seed), paired with the searched AP:
    the chord between the two points around it (``*_at_flops``; a lower bound of a concave
    curve, so it flatters the searched arm) and the most a concave curve through the points
    can reach there (``*_bound``, :func:`concave_bound_at`), which the verdict uses. Empty
    when the searched FLOPs lie outside the curve (no extrapolation).

    Args:
        arms: the bench's arms (``flops``, ``ap_per_seed`` in the seeds' order).
        searched: the searched arm.
    """
    points = [(a['flops'], a['ap_per_seed']) for n, a in arms.items()
              if n.startswith('uniform') or n == 'seed']
    out = {}
    for key, at in (('at_flops', curve_at(points, searched['flops'])),
                    ('bound', concave_bound_at(points, searched['flops']))):
        if at is not None:
            out.update({f'ap_uniform_{key}': sum(at) / len(at),
                        f'ap_uniform_{key}_per_seed': at,
                        f'difference_{key}': searched['ap'] - sum(at) / len(at),
                        f'difference_{key}_interval': paired_difference_interval(
                            searched['ap_per_seed'], at, LEVEL)})
    return out


def verdict(interval) -> str:
    """'met' / 'not met' / 'not decided' for the 1.5 AP goal from a paired interval."""
    return ('met' if interval and interval[0] >= GOAL else
            'not met' if interval and interval[1] < GOAL else 'not decided')


def signed(value) -> str:
    return 'n/a' if value is None else f'{100 * value:+.1f}'


def interval_text(interval) -> str:
    return f'{100 * interval[0]:+.1f} .. {100 * interval[1]:+.1f}' if interval else 'n/a'


def to_markdown(r: dict) -> str:
    pct = lambda v: 'n/a' if v is None else f'{100 * v:.1f}'  # noqa: E731
    lines = ['# Searched vs uniformly scaled backbones (demo data, generated — not COCO)', '',
             f"Command: `{r['command']}`; {r['machine']}; training seeds {r['seeds']}; "
             f"uniform scaling: {r['mode']}; MFLOPs of the backbone at 320x320 (the seed: "
             f"{r['seed_flops'] / 1e6:.0f}); latency: median CPU forward of the detector.",
             '', '| arm | budget | MFLOPs | latency (ms) | AP | per seed |',
             '|---|---|---|---|---|---|']
    for name, a in sorted(r['arms'].items(), key=lambda t: (t[1]['budget'], t[0])):
        lines.append(f"| {name} | {a['budget']:g} | {a['flops'] / 1e6:.0f} | "
                     f"{a['latency_ms']:.1f} | {pct(a['ap'])} ± {pct(a['ap_std'])} | "
                     f"{', '.join(pct(v) for v in a['ap_per_seed'])} |")
    lines += ['', f'| budget or arm | minus uniform AP | {LEVEL * 100:.0f} % paired interval | '
              'goal (>= 1.5 AP) |', '|---|---|---|---|']
    given = r.get('given', {})
    # the goal is the searched arms'; a given arch is a diagnostic ('-')
    judge = lambda key, interval: '-' if key in given else verdict(interval)  # noqa: E731
    for key, row in [*r['budgets'].items(), *given.items()]:
        if 'difference' in row:
            interval = row['difference_interval']
            lines.append(f"| {key} | {100 * row['difference']:+.1f} | "
                         f'{interval_text(interval)} | {judge(key, interval)} |')
        if 'difference_equal_flops' in row:  # a uniform arm trained at the searched FLOPs
            interval = row['difference_equal_flops_interval']
            costlier = ', costlier: a lower bound' if row.get('equal_flops_bound') else ''
            lines.append(f"| {key}, against {row['equal_flops_arm']} "
                         f"({row['flops_uniform_equal_flops'] / 1e6:.0f} MFLOPs{costlier}) | "
                         f"{100 * row['difference_equal_flops']:+.1f} | "
                         f'{interval_text(interval)} | {judge(key, interval)} |')
    lines += ['', 'At equal FLOPs: the searched arch against the uniform-scaling curve (uniform '
              'arms and the seed, per seed) at the searched FLOPs: the chord between the two '
              'points around it (a lower bound if the curve is concave) and the most a concave '
              'curve through the points can reach there (the neighbouring segments extended); '
              'the verdict is against the latter.', '',
              '| arm | MFLOPs | AP | uniform: chord | uniform: concave '
              'bound | difference to the bound | '
              f'{LEVEL * 100:.0f} % paired interval | goal (>= 1.5 AP) |',
              '|---|---|---|---|---|---|---|---|']
    rows = [(f'searched at {key}', row['flops_searched'], row['ap_searched'], row)
            for key, row in r['budgets'].items() if 'difference_at_flops' in row]
    rows += [(name, row['flops'], row['ap'], row) for name, row in r.get('given', {}).items()
             if 'difference_at_flops' in row]
    for label, flops, ap, row in rows:
        interval = row.get('difference_bound_interval')
        lines.append(f"| {label} | {flops / 1e6:.0f} | {pct(ap)} | "
                     f"{pct(row['ap_uniform_at_flops'])} | {pct(row.get('ap_uniform_bound'))} | "
                     f"{signed(row.get('difference_bound'))} | {interval_text(interval)} "
                     f'| {judge(label, interval)} |')
    return '\n'.join(lines) + '\n'


def plot(r: dict, path: str) -> None:
    """AP vs backbone FLOPs and AP vs measured latency: the uniform-scaling curve, the
    searched points, the seed; error bars over training seeds."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = dict(uniform=('tab:blue', 'o-', f"uniform ({r['mode']})"),
                  searched=('tab:red', 's', 'searched (mapped weights)'),
                  seed=('black', '*', 'seed'),
                  given=('tab:green', 'D', 'given arch (mapped weights)'))
    given = r.get('given', {})
    members = dict(uniform=lambda n: n.startswith('uniform') or n == 'seed',
                   searched=lambda n: n.startswith('searched'), seed=lambda n: n == 'seed',
                   given=lambda n: n in given)
    for ax, key, label in ((axes[0], 'flops', 'backbone MFLOPs (320x320)'),
                           (axes[1], 'latency_ms', 'detector latency (ms, CPU, batch 1)')):
        for kind, (color, marker, name) in styles.items():
            points = sorted((a[key] / (1e6 if key == 'flops' else 1), 100 * a['ap'],
                             100 * a['ap_std']) for n, a in r['arms'].items()
                            if members[kind](n))
            if kind == 'uniform' and len(points) < 2 or not points:
                continue
            xs, ys, es = zip(*points)
            ax.errorbar(xs, ys, yerr=es, fmt=marker, color=color, label=name, capsize=3,
                        markersize=9 if kind == 'seed' else 6)
        ax.set_xlabel(label)
        ax.set_ylabel('COCO AP on the demo val split (%)')
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"Searched vs uniformly scaled backbones ({osp.basename(r.get('config', ''))}"
                 ', demo data)')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == '__main__':
    main()
