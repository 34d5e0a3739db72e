#!/usr/bin/env python
"""Do a detector's anchors suit the data? Share of ground-truth boxes that no anchor reaches.

    python bench/anchor_coverage.py coco=configs/baselines/retinanet_mbv2_fpn_demo.py \\
        small=configs/baselines/retinanet_mbv2_fpn_small_anchors_demo.py \\
        [--data-root data/demo_coco_val400] [--out bench/results/anchor_coverage]

For each config, the training boxes of ``--data-root`` are resized as the test pipeline does
(the image fitted into ``--shape``, aspect kept) and matched against the head's anchors with
the assigner's positive threshold (:func:`detnas.analysis.anchor_coverage`). Writes OUT.json
and OUT.md.
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
import time

import numpy as np
from mmengine.config import Config

from detnas.analysis import anchor_coverage
from detnas.experiments.compare import named_configs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+', metavar='NAME=CONFIG')
    parser.add_argument('--data-root', default='data/demo_coco_val400')
    parser.add_argument('--shape', type=int, nargs=2, default=(320, 320), metavar=('H', 'W'))
    parser.add_argument('--out', default='bench/results/anchor_coverage')
    args = parser.parse_args(argv)
    args.configs = named_configs(parser, args.configs)
    return args


def resized_boxes(ann_file: str, shape) -> list:
    """Per image, its boxes as x1, y1, x2, y2 after fitting the image into ``shape``."""
    with open(ann_file) as f:
        coco = json.load(f)
    boxes = {im['id']: [] for im in coco['images']}
    scale = {im['id']: min(shape[0] / im['height'], shape[1] / im['width'])
             for im in coco['images']}
    for a in coco['annotations']:
        x, y, w, h = (v * scale[a['image_id']] for v in a['bbox'])
        boxes[a['image_id']].append([x, y, x + w, y + h])
    return [np.array(b).reshape(-1, 4) for b in boxes.values()]


def main(argv=None):
    args = parse_args(argv)
    boxes = resized_boxes(osp.join(args.data_root, 'annotations', 'instances_train.json'),
                          args.shape)
    rows = []
    for name, config in args.configs.items():
        model = Config.fromfile(config).model
        generator = model.bbox_head.anchor_generator.to_dict()
        threshold = model.train_cfg.assigner.pos_iou_thr
        rows.append(dict(name=name, config=config, anchor_generator=generator,
                         pos_iou_thr=threshold,
                         **anchor_coverage(generator, boxes, args.shape, threshold)))
    result = dict(command=' '.join(['python', 'bench/anchor_coverage.py',
                                    *(sys.argv[1:] if argv is None else argv)]),
                  machine=f'{platform.machine()}, {os.cpu_count()} CPUs',
                  date=time.strftime('%Y-%m-%d'), data_root=args.data_root,
                  shape=list(args.shape), rows=rows)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    with open(args.out + '.json', 'w') as f:
        json.dump(result, f, indent=2)
    lines = [f'# Anchor coverage of the training boxes of `{args.data_root}` '
             f'({rows[0]["boxes"]} boxes, input {args.shape[0]}x{args.shape[1]})', '',
             f'Command: `{result["command"]}`.', '',
             '| config | smallest anchor (px) | positive IoU | boxes with no positive anchor '
             '| of the small ones (< 32² px) | median best IoU | median positives per box |',
             '|---|---|---|---|---|---|---|']
    for r in rows:
        g = r['anchor_generator']
        lines.append(f"| {r['name']} | {g['octave_base_scale'] * min(g['strides'])} | "
                     f"{r['pos_iou_thr']} | {100 * r['uncovered']:.0f} % | "
                     f"{100 * r['uncovered_small']:.0f} % | {r['median_best_iou']:.2f} | "
                     f"{r['median_positives']:.0f} |")
    with open(args.out + '.md', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
