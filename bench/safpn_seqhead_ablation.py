#!/usr/bin/env python
"""SA-FPN / Seq-Head ablation on the demo data: 4 variants x 2 detectors x N seeds.

    python bench/safpn_seqhead_ablation.py [--detectors retinanet fcos]
        [--variants baseline safpn seqhead both] [--seeds 0 1 2] [--max-epochs N]
        [--data-root data/demo_coco/] [--work-dir work_dirs/safpn_seqhead_ablation]
        [--out bench/results/safpn_seqhead] [--latency-runs 30] [--force] [--tiny]

Every run trains ``configs/safpn_seqhead/<detector>_mbv2_<variant>_demo.py`` with
``tools/train.py`` (same schedule for all, seed set through ``randomness.seed``), then
evaluates the *last* checkpoint with ``tools/test.py`` on the demo val split (no
best-checkpoint picking: val is the only held-out split). Params and FLOPs come from
``detnas.utils.complexity.model_complexity`` at the demo image size; latency is the median
CPU time of the raw tensor forward (no NMS), measured round-robin over the variants so that
machine load drifts hit all of them alike. Runs whose ``test_metrics.json`` exists are
reused, so an interrupted ablation resumes where it stopped (``--force`` retrains).

Writes ``<out>.json`` (every run, the aggregate, the command) and ``<out>.md`` (the table).
``--tiny`` checks the pipeline in minutes: 8 generated images, 1 epoch, batch 2.
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO, 'configs', 'safpn_seqhead')
DETECTORS = ('retinanet', 'fcos')
VARIANTS = {
    'baseline': '{det}_mbv2_fpn_demo.py',
    'safpn': '{det}_mbv2_safpn_demo.py',
    'seqhead': '{det}_mbv2_fpn_seqhead_demo.py',
    'both': '{det}_mbv2_safpn_seqhead_demo.py',
}
VARIANT_LABELS = dict(baseline='FPN + parallel head', safpn='+SA-FPN', seqhead='+Seq-Head',
                      both='+SA-FPN +Seq-Head')
METRICS = dict(AP='coco/bbox_mAP', AP50='coco/bbox_mAP_50', AP75='coco/bbox_mAP_75',
               AP_s='coco/bbox_mAP_s', AP_m='coco/bbox_mAP_m', AP_l='coco/bbox_mAP_l')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--detectors', nargs='+', choices=DETECTORS, default=list(DETECTORS))
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=list(VARIANTS))
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


def make_tiny_data(root: str) -> str:
    """Writes (once) an 8 + 4 image demo set into ``root``; returns it with a slash."""
    from detnas.datasets.demo_coco import DemoCocoSpec, make_demo_coco
    if not osp.isfile(osp.join(root, 'annotations', 'instances_val.json')):
        make_demo_coco(root, DemoCocoSpec(num_train=8, num_val=4, image_size=(160, 160),
                                          min_size=12, max_size=80))
    return root.rstrip('/') + '/'


def run_config(base: str, seed: int, data_root: str, max_epochs: Optional[int], tiny: bool):
    """The base config with this run's seed, data and schedule (dumped next to the run)."""
    from mmengine.config import Config
    cfg = Config.fromfile(base)
    cfg.randomness = dict(seed=seed, deterministic=False)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        if tiny:
            cfg[loader].batch_size = 2
            cfg[loader].num_workers = 0
            cfg[loader].persistent_workers = False
    for evaluator in ('val_evaluator', 'test_evaluator'):
        cfg[evaluator].ann_file = osp.join(data_root, 'annotations', 'instances_val.json')
    if max_epochs is not None:
        cfg.train_cfg.max_epochs = max_epochs
        for sched in cfg.param_scheduler:  # the epoch-based decay spans the whole schedule
            if sched.get('by_epoch', True):
                sched.end = max_epochs
                if 'T_max' in sched:
                    sched.T_max = max_epochs
    # no validation while training: evaluated once, afterwards, by tools/test.py on the
    # last checkpoint (test_dataloader / test_evaluator stay)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=cfg.train_cfg.max_epochs,
                                        max_keep_ckpts=1)
    if tiny:  # untrained models score low; keep their boxes so that COCO eval has input
        cfg.model.test_cfg.score_thr = 0.0
        cfg.default_hooks.logger.interval = 1
    return cfg


def run_tool(cmd: List[str], log_path: str) -> float:
    """Runs a tool, its output to ``log_path``; returns wall seconds; raises on failure."""
    start = time.time()
    with open(log_path, 'w') as log:
        proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_path) as log:
            tail = ''.join(log.readlines()[-30:])
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {proc.returncode}); see {log_path}:'
                           f'\n{tail}')
    return time.time() - start


def weights_only_checkpoint(ckpt: str) -> str:
    """Saves the model weights of a training checkpoint (which also pickles optimizer and
    logging state) as ``<ckpt>_weights.pth``, a file that ``torch.load(weights_only=True)``,
    torch's default since 2.6, reads."""
    import torch
    out = osp.splitext(ckpt)[0] + '_weights.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=False)  # our own file
    torch.save(dict(state_dict=state['state_dict']), out)
    return out


def train_and_test(det: str, variant: str, seed: int, args, data_root: str) -> Dict:
    """One run of the ablation; reuses a finished one unless --force."""
    run_dir = osp.abspath(osp.join(args.work_dir, f'{det}_{variant}_seed{seed}'))
    metrics_file = osp.join(run_dir, 'test', 'test_metrics.json')
    record_file = osp.join(run_dir, 'record.json')
    if not args.force and osp.isfile(record_file) and osp.isfile(metrics_file):
        with open(record_file) as f:
            return json.load(f)
    os.makedirs(run_dir, exist_ok=True)
    cfg = run_config(config_path(det, variant), seed, data_root, args.max_epochs, args.tiny)
    cfg_file = osp.join(run_dir, 'config.py')
    cfg.dump(cfg_file)
    print(f'[{det} {variant} seed {seed}] training ({cfg.train_cfg.max_epochs} epochs) ...',
          flush=True)
    train_s = run_tool([sys.executable, 'tools/train.py', cfg_file, '--work-dir', run_dir],
                       osp.join(run_dir, 'train.log'))
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        ckpt = weights_only_checkpoint(f.read().strip())
    test_s = run_tool([sys.executable, 'tools/test.py', cfg_file, ckpt, '--work-dir',
                       osp.join(run_dir, 'test')], osp.join(run_dir, 'test.log'))
    with open(metrics_file) as f:
        raw = json.load(f)
    record = dict(detector=det, variant=variant, seed=seed,
                  config=osp.relpath(config_path(det, variant), REPO),
                  checkpoint=osp.relpath(ckpt, REPO), train_s=round(train_s, 1),
                  test_s=round(test_s, 1),
                  # COCO reports -1 for an area range without ground truth
                  metrics={k: (100 * raw[v] if raw.get(v, -1) >= 0 else None)
                           for k, v in METRICS.items()})
    with open(record_file, 'w') as f:
        json.dump(record, f, indent=2)
    print(f'[{det} {variant} seed {seed}] AP {record["metrics"]["AP"]} '
          f'(train {train_s:.0f} s, test {test_s:.0f} s)', flush=True)
    return record


def build_model(det: str, variant: str):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    cfg = Config.fromfile(config_path(det, variant))
    cfg.model.backbone.init_cfg = None  # cost does not depend on the weights
    return MODELS.build(cfg.model).eval()


def measure_costs(pairs, shape, runs: int) -> Dict:
    """Params, FLOPs (model_complexity) and median CPU latency of the tensor forward."""
    import torch
    from detnas.utils.complexity import TensorModeForward, model_complexity
    costs, models = {}, {}
    for det, variant in pairs:
        model = build_model(det, variant)
        c = model_complexity(model, tuple(shape))
        costs[(det, variant)] = dict(params=c['params'], gflops=c['gflops'])
        models[(det, variant)] = TensorModeForward(model).eval()
    x = torch.rand(1, 3, *shape) * 255
    times = {key: [] for key in models}
    with torch.no_grad():
        for model in models.values():  # warm-up
            for _ in range(3):
                model(x)
        for _ in range(runs):
            for key, model in models.items():
                start = time.perf_counter()
                model(x)
                times[key].append(1000 * (time.perf_counter() - start))
    for key, t in times.items():
        costs[key]['latency_ms'] = statistics.median(t)
    return costs


def mean_std(values: List[Optional[float]]):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


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
    if value is None:
        return 'n/a'
    text = f'{value:.{digits}f}'
    return text + (f' ± {std:.{digits}f}' if std else '')


def markdown(rows: List[Dict], meta: Dict) -> str:
    lines = [
        f'SA-FPN / Seq-Head ablation on the **demo data** ({meta["data"]}), '
        f'{meta["schedule"]}, seeds {meta["seeds"]}; mean ± std over seeds; '
        'ΔAP is paired by seed against the baseline. Params / GFLOPs / latency at '
        f'{meta["shape"][0]}x{meta["shape"][1]}, latency = median CPU time of the tensor '
        f'forward (no NMS), {meta["threads"]} threads.',
        '',
        '| Detector | Variant | AP | ΔAP | AP50 | AP_s | AP_m | AP_l | Params (M) | GFLOPs '
        '| Latency (ms) |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in rows:
        lines.append(
            f'| {r["detector"]} | {VARIANT_LABELS[r["variant"]]} | {fmt(r["AP"], r["AP_std"])} '
            f'| {fmt(r["dAP"], r["dAP_std"]) if r["variant"] != "baseline" else "-"} '
            f'| {fmt(r["AP50"], r["AP50_std"])} | {fmt(r["AP_s"], r["AP_s_std"])} '
            f'| {fmt(r["AP_m"], r["AP_m_std"])} | {fmt(r["AP_l"], r["AP_l_std"])} '
            f'| {r["params"] / 1e6:.3f} | {r["gflops"]:.3f} | {r["latency_ms"]:.1f} |')
    lines += ['', f'Command: `{meta["command"]}`', '']
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, REPO)
    import torch
    import detnas  # noqa: F401
    for det in args.detectors:
        for variant in args.variants:
            if not osp.isfile(config_path(det, variant)):
                raise FileNotFoundError(f'missing config {config_path(det, variant)}')
    if args.tiny:
        data_root = make_tiny_data(osp.abspath(osp.join(args.work_dir, 'data')))
    else:
        data_root = osp.abspath(args.data_root).rstrip('/') + '/'
        if not osp.isfile(osp.join(data_root, 'annotations', 'instances_train.json')):
            raise FileNotFoundError(
                f'no demo data in {data_root}; make it with: python '
                f'tools/dataset/make_demo_coco.py --out {args.data_root}')
    records = [train_and_test(det, variant, seed, args, data_root)
               for seed in args.seeds for det in args.detectors for variant in args.variants]
    pairs = [(d, v) for d in args.detectors for v in args.variants]
    costs = measure_costs(pairs, args.shape, args.latency_runs)
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
        seeds=args.seeds, shape=list(args.shape), threads=torch.get_num_threads(),
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
