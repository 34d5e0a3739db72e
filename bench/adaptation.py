"""Does the adaptation search pay off, and what does it cost?

Runs the search once (``tools/search.py CONFIG --seed SEARCH_SEED``, timed), then fine-tunes
on the same schedule, for several training seeds, and evaluates on the demo val split:

* ``seed``: the seed detector (the search config's base) from its ImageNet weights;
* ``adapted``: the chosen architecture from its exported checkpoint (sliced from the
  supernet, so backbone, neck and head have had the supernet's detection training);
* ``control`` (``--no-control`` skips it): the *seed* architecture sliced
  from the same supernet. ``adapted`` vs ``control`` is the architecture's effect;
  ``control`` vs ``seed`` is the supernet training's.

    python bench/adaptation.py [--config configs/search/gfocalv2_mbv2_search_demo.py]
        [--seed-config configs/baselines/gfocalv2_mbv2_fpn_demo.py] [--seeds 0 1 2]
        [--search-seed 0] [--work-dir work_dirs/adaptation] [--out bench/results]
        [--no-control]

Writes ``bench/results/adaptation.{json,md}`` (``ap_seed``, ``ap_adapted``, ``flops_seed``,
``flops_adapted``, per-seed values, params, latency) and ``bench/results/search_cost.{json,md}``
(``ratio`` = wall time of the whole search / mean wall time of one fine-tune measured here,
both times, the search's phase timings, the load average while it ran). A finished search
(``search_summary.json``) and finished fine-tunes (``record.json``) are reused; the seed
arm's runs can be reused from ``bench/demo_compare.py`` by linking them as
``WORK_DIR/seed_seed{S}``. Results are on generated demo data, not COCO.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

from detnas.experiments import (compare, ensure_demo_data, paired_difference_interval,
                                search_and_export)

DEFAULT_CONFIG = 'configs/search/gfocalv2_mbv2_search_demo.py'
SEED_CONFIG = 'configs/baselines/gfocalv2_mbv2_fpn_demo.py'
ARMS = dict(seed='seed (ImageNet weights)', adapted='adapted (chosen arch, supernet weights)',
            control='control: seed arch, supernet weights')
GOAL = 0.01  # the target: adapted beats the control by >= 1.0 AP
LEVEL = 0.9  # coverage of the paired interval over training seeds
COST_GOAL = 1.5  # whole search / one fine-tune


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='search config')
    parser.add_argument('--seed-config', default=SEED_CONFIG,
                        help='the seed detector on the same schedule (the search config\'s base)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='fine-tuning seeds')
    parser.add_argument('--search-seed', type=int, default=0)
    parser.add_argument('--work-dir', default='work_dirs/adaptation')
    parser.add_argument('--search-dir',
                        help='a finished search work dir to reuse (default: search it here)')
    parser.add_argument('--data-root', default='data/demo_coco_val400')
    parser.add_argument('--num-val', type=int, default=400,
                        help='val images when the data root is made (evaluation noise)')
    parser.add_argument('--out', default='bench/results')
    parser.add_argument('--no-control', dest='control', action='store_false',
                        help='skip the control arm (the seed arch with the supernet\'s weights, '
                        'seed_arch.py of the search)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    data_root = ensure_demo_data(args.data_root, num_val=args.num_val)
    load_before = os.getloadavg()[0]
    print(f'[adaptation] search {args.config} (seed {args.search_seed})', flush=True)
    summary = search_and_export(args.config, args.search_seed, data_root,
                                args.search_dir or osp.join(args.work_dir,
                                                            f'search_seed{args.search_seed}'),
                                echo=True)
    load = dict(before=load_before, after=os.getloadavg()[0])
    chosen = summary['chosen_config']
    arms = [f'seed={args.seed_config}', f'adapted={chosen}']
    control = summary.get('exported_seed_arch', {}).get('config')
    if args.control and control:
        arms.append(f'control={control}')
    elif args.control:
        print('[adaptation] this search exported no seed_arch.py (made before the control '
              'existed): no control arm; rerun tools/search.py --resume to export it')
    compared = compare.main(
        [*arms, '--seeds', *map(str, args.seeds), '--data-root', data_root,
         '--work-dir', args.work_dir, '--out', osp.join(args.work_dir, 'compare')])
    rows = {row['name']: row for row in compared['rows']}
    adaptation = dict(
        data='demo (generated) — not COCO', command=' '.join(['python', *sys.argv]),
        machine=compared['machine'], date=time.strftime('%Y-%m-%d'), seeds=args.seeds,
        search_seed=args.search_seed, chosen_arch=summary['chosen']['arch'],
        heldout_map=dict(seed=summary['seed_arch']['metrics'].get('bbox_mAP'),
                         chosen=summary['chosen']['metrics'].get('bbox_mAP')),
        note=('the adapted and control arms start from the supernet checkpoint sliced for '
              'their architecture (backbone, neck and head were trained on the search split '
              'during the supernet phase); the seed arm from the ImageNet seed'))
    for arm in [a for a in ARMS if a in rows]:
        row = rows[arm]
        adaptation.update({f'ap_{arm}': row['AP'], f'ap_{arm}_std': row['AP_std'],
                           f'ap_{arm}_per_seed': row['AP_per_seed'],
                           f'ap_s_{arm}': row['AP_s'], f'ap_s_{arm}_per_seed': row['AP_s_per_seed'],
                           f'flops_{arm}': row['gflops'] * 1e9 / 2,
                           f'gflops_{arm}': row['gflops'], f'params_{arm}': row['params'],
                           f'latency_ms_{arm}': row['latency_ms'],
                           f'train_s_{arm}': row['train_s'], f'config_{arm}': row['config']})
    if 'ap_control' in adaptation:
        interval = paired_difference_interval(adaptation['ap_adapted_per_seed'],
                                              adaptation['ap_control_per_seed'], LEVEL)
        adaptation.update(adapted_minus_control=adaptation['ap_adapted'] -
                          adaptation['ap_control'], interval=interval,
                          goal=('met' if interval and interval[0] >= GOAL else 'not met'
                                if interval and interval[1] < GOAL else 'not decided'))
    finetune_s = rows['adapted']['train_s']
    cost = dict(command=adaptation['command'], machine=compared['machine'],
                date=adaptation['date'], search_s=summary['wall_s'],
                finetune_s=finetune_s, ratio=summary['wall_s'] / finetune_s,
                search_phases=summary.get('timings'), load_average=load,
                note='finetune_s: mean wall time of tools/train.py on the chosen '
                     'architecture over the seeds above (same data, schedule, machine)')
    os.makedirs(args.out, exist_ok=True)
    for name, data, md in (('adaptation', adaptation, adaptation_md(adaptation)),
                           ('search_cost', cost, cost_md(cost))):
        with open(osp.join(args.out, f'{name}.json'), 'w') as f:
            json.dump(data, f, indent=1)
        with open(osp.join(args.out, f'{name}.md'), 'w') as f:
            f.write(md)
        print(md)
    return adaptation, cost


def adaptation_md(r: dict) -> str:
    pct = lambda v: f'{100 * v:.1f}'  # noqa: E731
    lines = ['# Seed vs adapted backbone (demo data, generated — not COCO)', '',
             f"Command: `{r['command']}`; {r['machine']}; fine-tuning seeds {r['seeds']}, "
             f"search seed {r['search_seed']}.", '',
             '| backbone | AP | per seed | AP_s | params (M) | GFLOPs | latency (ms) | '
             'train (s) |', '|---|---|---|---|---|---|---|---|']
    for arm in [a for a in ARMS if f'ap_{a}' in r]:
        lines.append(
            f"| {ARMS[arm]} | {pct(r[f'ap_{arm}'])} ± {pct(r[f'ap_{arm}_std'])} | "
            f"{', '.join(pct(v) for v in r[f'ap_{arm}_per_seed'])} | {pct(r[f'ap_s_{arm}'])} | "
            f"{r[f'params_{arm}'] / 1e6:.2f} | {r[f'gflops_{arm}']:.2f} | "
            f"{r[f'latency_ms_{arm}']:.1f} | {r[f'train_s_{arm}']:.0f} |")
    if 'adapted_minus_control' in r:
        interval = r['interval']
        lines += ['', f"Adapted - control: {100 * r['adapted_minus_control']:+.1f} AP"
                  + (f" ({LEVEL * 100:.0f} % paired interval {100 * interval[0]:+.1f} .. "
                     f"{100 * interval[1]:+.1f})" if interval else '')
                  + f"; goal >= {100 * GOAL:.1f}: {r['goal']}."]
    lines += ['', f"Chosen architecture: `{r['chosen_arch']}`", '', f"Note: {r['note']}."]
    return '\n'.join(lines) + '\n'


def cost_md(c: dict) -> str:
    phases = ', '.join(f'{k} {v:.0f} s' for k, v in (c['search_phases'] or {}).items())
    return '\n'.join([
        '# Search cost (demo data)', '', f"Command: `{c['command']}`; {c['machine']}.", '',
        f'| whole search (s) | one fine-tune (s) | ratio (goal ≤ {COST_GOAL}) |',
        '|---|---|---|',
        f"| {c['search_s']:.0f} | {c['finetune_s']:.0f} | {c['ratio']:.2f} |", '',
        f'Search phases: {phases}.',
        f"Load average (1 min) when this bench started / after the search: "
        f"{c['load_average']['before']:.1f} / {c['load_average']['after']:.1f}.", '']) + '\n'


if __name__ == '__main__':
    main()
