"""Can a detector's training path learn at all? Overfit a handful of training images.

Trains each config on the first N demo training images for a fixed number of iterations
(no validation, its own optimizer and LR schedule stretched to the run) and evaluates the
last checkpoint on *the same* images with COCO metrics. A working assigner + loss drives the
loss down and the AP on the memorised images up; a broken one does not. This separates "the
schedule is too short for this model" from "the training path is wrong".

    python bench/overfit_check.py yolov7_tiny=configs/yolov7/yolov7_tiny_demo.py \\
        retinanet_scratch=configs/baselines/retinanet_mbv2_fpn_scratch_demo.py \\
        [--images 8] [--iters 300] [--out bench/results/overfit_check]

Writes OUT.json and OUT.md (AP / AP50 / AP_s / AP_m / AP_l, first and last logged loss per
config). Results are on generated demo data, not COCO.
"""
import argparse
import json
import math
import os
import os.path as osp
import platform
import sys
import time

from detnas.experiments import (ensure_demo_data, experiment_config, logged_scalars,
                                train_and_test)
from detnas.experiments.compare import named_configs



def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+', metavar='NAME=CONFIG')
    parser.add_argument('--images', type=int, default=8, help='training images to memorise')
    parser.add_argument('--iters', type=int, default=300, help='training iterations')
    parser.add_argument('--data-root', default='data/demo_coco')
    parser.add_argument('--work-dir', default='work_dirs/overfit_check')
    parser.add_argument('--out', default='bench/results/overfit_check')
    args = parser.parse_args(argv)
    args.configs = named_configs(parser, args.configs)
    return args


def subset_data(data_root: str, num: int, out: str) -> str:
    """A data folder whose train and val splits are both the first ``num`` training images
    of ``data_root`` (annotation subsets; images linked, not copied)."""
    with open(osp.join(data_root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    images = coco['images'][:num]
    ids = {im['id'] for im in images}
    subset = dict(coco, images=images,
                  annotations=[a for a in coco['annotations'] if a['image_id'] in ids])
    os.makedirs(osp.join(out, 'annotations'), exist_ok=True)
    for split in ('train', 'val'):
        with open(osp.join(out, 'annotations', f'instances_{split}.json'), 'w') as f:
            json.dump(subset, f)
        link = osp.join(out, split)
        if not osp.lexists(link):
            os.symlink(osp.abspath(osp.join(data_root, 'train')), link)
    return out


def logged_losses(run_dir: str):
    """(first, last) total loss from the run's mmengine scalars log."""
    losses = [value for _, value in logged_scalars(run_dir, 'loss')]
    return (losses[0], losses[-1]) if losses else (None, None)


def main(argv=None):
    args = parse_args(argv)
    import torch
    data_root = subset_data(ensure_demo_data(args.data_root), args.images,
                            osp.join(args.work_dir, 'data'))
    rows = []
    for name, config in args.configs.items():
        probe = experiment_config(config, 0, data_root)
        iters_per_epoch = math.ceil(args.images / probe.train_dataloader.batch_size)
        epochs = math.ceil(args.iters / iters_per_epoch)
        cfg = experiment_config(config, 0, data_root, max_epochs=epochs)
        cfg.default_hooks.logger.interval = 10
        for loader in ('train_dataloader', 'test_dataloader'):
            cfg[loader].num_workers, cfg[loader].persistent_workers = 0, False
        run_dir = osp.join(args.work_dir, name)
        print(f'[overfit] {name}: {args.images} images, {epochs * iters_per_epoch} '
              'iterations ...', flush=True)
        record = train_and_test(cfg, run_dir)
        first, last = logged_losses(run_dir)
        rows.append(dict(name=name, config=config, iters=epochs * iters_per_epoch,
                         loss_first=first, loss_last=last, train_s=record['train_s'],
                         **record['metrics']))
        print(f'[overfit] {name}: AP {record["metrics"]["AP"]}, loss {first} -> {last}',
              flush=True)
    result = dict(command=' '.join(['python', 'bench/overfit_check.py', *sys.argv[1:]]
                                   if argv is None else argv),
                  machine=f'{platform.machine()}, {os.cpu_count()} CPUs, torch '
                          f'{torch.__version__}, {torch.get_num_threads()} threads',
                  date=time.strftime('%Y-%m-%d'), images=args.images, rows=rows)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out + '.json', 'w') as f:
        json.dump(result, f, indent=2)
    md = markdown(result)
    with open(args.out + '.md', 'w') as f:
        f.write(md)
    print(md)


def markdown(r: dict) -> str:
    pct = lambda v: 'n/a' if v is None else f'{100 * v:.1f}'  # noqa: E731
    lines = [f"# Overfit check: {r['images']} demo training images, evaluated on the same "
             'images (generated data, not COCO)', '', f"Command: `{r['command']}`; "
             f"{r['machine']}.", '',
             '| model | iterations | loss first → last | AP | AP50 | AP_s | AP_m | AP_l |',
             '|---|---|---|---|---|---|---|---|']
    for row in r['rows']:
        loss = (f"{row['loss_first']:.3f} → {row['loss_last']:.3f}"
                if row['loss_first'] is not None else 'n/a')
        lines.append(f"| {row['name']} | {row['iters']} | {loss} | "
                     + ' | '.join(pct(row[k]) for k in ('AP', 'AP50', 'AP_s', 'AP_m', 'AP_l'))
                     + ' |')
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
