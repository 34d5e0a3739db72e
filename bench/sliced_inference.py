#!/usr/bin/env python
"""Sliced inference vs one whole-image pass on large images with small objects.

Large images are made from the demo val split: ``--grid`` x ``--grid`` val images side by
side (1280 x 1280 from 4 x 4 images of 320 px), their boxes shifted, so the objects keep
the size the detector learnt while the image grows. The detector's test pipeline resizes a
whole image to its input size (320 px), shrinking every object ``--grid`` times; sliced
inference (:func:`detnas.apis.predict_sliced`) runs it on overlapping tiles of that size
instead. Both are COCO-evaluated with pycocotools on the same ground truth.

    python bench/sliced_inference.py --config CFG --checkpoint CKPT [--grid 4]

The detector is any trained demo detector, e.g. the seed of the ranking study
(``python bench/search_ranking.py`` writes work_dirs/search_ranking/standalone/seed_seed0).
Writes ``<out>/sliced_inference.{json,md}``. Demo data (generated), not COCO.
"""
import argparse
import json
import os
import os.path as osp
import time

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def make_mosaics(data_root: str, grid: int, out_dir: str) -> str:
    """Writes ``len(val) // grid**2`` mosaic images and their COCO json; returns the json."""
    import mmcv
    with open(osp.join(data_root, 'annotations', 'instances_val.json')) as f:
        coco = json.load(f)
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    images = sorted(coco['images'], key=lambda im: im['id'])
    per = grid * grid
    out = dict(images=[], annotations=[], categories=coco['categories'])
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    for m in range(len(images) // per):
        parts = images[m * per:(m + 1) * per]
        h, w = parts[0]['height'], parts[0]['width']
        canvas = np.zeros((h * grid, w * grid, 3), np.uint8)
        for k, im in enumerate(parts):
            y, x = (k // grid) * h, (k % grid) * w
            canvas[y:y + h, x:x + w] = mmcv.imread(osp.join(data_root, 'val', im['file_name']))
            for ann in by_image.get(im['id'], []):
                bx, by, bw, bh = ann['bbox']
                out['annotations'].append(dict(
                    id=len(out['annotations']) + 1, image_id=m + 1,
                    category_id=ann['category_id'], bbox=[bx + x, by + y, bw, bh],
                    area=bw * bh, iscrowd=0))
        name = f'mosaic_{m:03d}.png'
        mmcv.imwrite(canvas, osp.join(out_dir, 'images', name))
        out['images'].append(dict(id=m + 1, file_name=name, width=w * grid, height=h * grid))
    ann_file = osp.join(out_dir, 'mosaics.json')
    with open(ann_file, 'w') as f:
        json.dump(out, f)
    return ann_file


def detect_all(model, coco: dict, images_dir: str, predict) -> list:
    """COCO result entries of ``predict(model, bgr_image)`` on every image of ``coco``."""
    import mmcv
    label_to_cat = [c['id'] for c in sorted(coco['categories'], key=lambda c: c['id'])]
    results = []
    for im in coco['images']:
        det = predict(model, mmcv.imread(osp.join(images_dir, im['file_name'])))
        for box, score, label in zip(det.bboxes.tolist(), det.scores.tolist(),
                                     det.labels.tolist()):
            results.append(dict(image_id=im['id'], category_id=label_to_cat[label],
                                bbox=[box[0], box[1], box[2] - box[0], box[3] - box[1]],
                                score=score))
    return results


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', required=True, help='a trained demo detector: its config')
    p.add_argument('--checkpoint', required=True)
    p.add_argument('--data-root', default=osp.join(ROOT, 'data/demo_coco_val400'))
    p.add_argument('--grid', type=int, default=4, help='val images per mosaic side')
    p.add_argument('--tile', type=int, default=320, help='tile side (the input size)')
    p.add_argument('--overlap', type=int, default=64)
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs/sliced_inference'))
    p.add_argument('--out', default=osp.join(ROOT, 'bench/results/sliced_inference'))
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import detnas  # noqa: F401
    from detnas.apis import load_trained_detector, predict_images, predict_sliced
    from detnas.evaluation.coco_eval import evaluate_detections
    from detnas.experiments.results import run_header, write_results
    ann_file = make_mosaics(args.data_root, args.grid, args.work_dir)
    with open(ann_file) as f:
        coco = json.load(f)
    model = load_trained_detector(args.config, args.checkpoint)
    keep = 1000  # a mosaic holds grid**2 images' objects: no mode may be capped at 100
    model.bbox_head.test_cfg['max_per_img'] = keep
    modes = {
        'whole image': lambda m, im: predict_images(m, [im], 1)[0],
        'sliced': lambda m, im: predict_sliced(m, im, args.tile, args.overlap, 4,
                                               whole_image=False, max_per_img=keep),
        'sliced + whole': lambda m, im: predict_sliced(m, im, args.tile, args.overlap, 4,
                                                       max_per_img=keep),
    }
    rows = {}
    for name, predict in modes.items():
        start = time.time()
        dets = detect_all(model, coco, osp.join(args.work_dir, 'images'), predict)
        seconds = (time.time() - start) / len(coco['images'])
        det_file = osp.join(args.work_dir, name.replace(' ', '_').replace('+', 'and') + '.json')
        with open(det_file, 'w') as f:
            json.dump(dets, f)
        stats = evaluate_detections(ann_file, det_file).stats
        rows[name] = dict(stats=stats, seconds_per_image=seconds)
        print(f'{name}: AP {100 * stats["AP"]:.1f}, AP_s {100 * stats["AP_s"]:.1f},'
              f' {seconds:.2f} s/image', flush=True)
    sizes = [a['area'] for a in coco['annotations']]
    result = dict(
        run_header('bench/sliced_inference.py', argv), images=len(coco['images']),
        image_size=[coco['images'][0]['width'], coco['images'][0]['height']],
        boxes=len(sizes), small_share=float(np.mean(np.array(sizes) < 32 ** 2)),
        tile=args.tile, overlap=args.overlap, modes=rows)
    print(write_results(args.out, 'sliced_inference', result, to_markdown))
    return result


def to_markdown(r: dict) -> str:
    w, h = r['image_size']
    lines = ['# Sliced inference vs a whole-image pass (demo data, generated — not COCO)', '',
             f"Command: `{r['command']}`; {r['machine']}. {r['images']} mosaics of {w} x {h} "
             f"px, {r['boxes']} boxes ({100 * r['small_share']:.0f} % small, < 32^2 px); "
             f"tiles {r['tile']} px, overlap {r['overlap']} px; pycocotools.", '',
             '| mode | AP | AP50 | AP_s | AP_m | AP_l | s / image |',
             '|---|---|---|---|---|---|---|']
    for name, row in r['modes'].items():
        s = row['stats']
        lines.append(f"| {name} | " + ' | '.join(
            f'{100 * s[k]:.1f}' for k in ('AP', 'AP50', 'AP_s', 'AP_m',
                                           'AP_l')) + f" | {row['seconds_per_image']:.2f} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
