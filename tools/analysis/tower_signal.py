"""How much signal reaches a dense head's prediction layers? Tower output scale vs input scale.

    python tools/analysis/tower_signal.py CONFIG [CONFIG ...] [--checkpoint CKPT ...]
        [--num-images 16] [--split test] [--data-root DIR] [--cfg-options k=v ...]

For each config, builds the detector with its initialisation (the backbone's pretrained
seed is loaded through ``init_cfg``; or the given checkpoint), runs backbone and neck on
images of the config's test split, and measures the root-mean-square of the head's input
(the FPN level) and of the outputs of its classification and regression towers
(``cls_convs`` / ``reg_convs``), averaged over pyramid levels
(:mod:`detnas.analysis.tower_signal`).

Prints a table (one row per config) and writes it to ``--out`` (.json and .md) when given.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='+', help='detector configs whose heads have cls_convs / '
                   'reg_convs towers')
    p.add_argument('--checkpoint', nargs='+', help='one checkpoint per config (default: the '
                   "configs' initialisation)")
    p.add_argument('--num-images', type=int, default=16)
    p.add_argument('--split', choices=('test', 'val', 'train'), default='test')
    p.add_argument('--data-root', help="a COCO-style folder (annotations/instances_*.json) "
                   "that every loader of the configs reads instead of the configs' own")
    p.add_argument('--out', help='output prefix for .json and .md')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    args = p.parse_args(argv)
    if args.checkpoint and len(args.checkpoint) != len(args.configs):
        p.error(f'--checkpoint needs one file per config ({len(args.configs)}), got '
                f'{len(args.checkpoint)}')
    if args.num_images < 1:
        p.error(f'--num-images must be at least 1, got {args.num_images}')
    return args


def main(argv=None):
    args = parse_args(argv)
    from detnas.analysis import build_towered_detector, tower_signal, tower_table
    from detnas.datasets import load_batches
    from detnas.experiments import data_root_options
    from detnas.utils.errors import DetnasInputError
    options = dict(o.split('=', 1) for o in data_root_options(args.data_root)) \
        if args.data_root else {}
    options.update(args.cfg_options or {})
    rows = []
    for i, config in enumerate(args.configs):
        ckpt = args.checkpoint[i] if args.checkpoint else None
        cfg, model = build_towered_detector(config, ckpt, options)
        loader = cfg.get(f'{args.split}_dataloader')
        if not loader:
            raise DetnasInputError(f'{config} has no {args.split}_dataloader')
        batches, _ = load_batches(loader.dataset, batch_size=8, num_images=args.num_images)
        rows.append(dict(config=config, checkpoint=ckpt or 'init',
                         head=type(model.bbox_head).__name__,
                         order=getattr(model.bbox_head, 'seq_order', 'parallel'),
                         **tower_signal(model, batches)))
    table = tower_table(rows)
    print(table)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out + '.json', 'w') as f:
            json.dump(dict(command=' '.join(['python', *sys.argv]), images=args.num_images,
                           split=args.split, rows=rows), f, indent=1)
        with open(args.out + '.md', 'w') as f:
            f.write(table)
    return rows


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
