"""Evaluate a COCO detections json against an annotation file.

    python tools/eval_coco.py ANN_FILE DET_FILE [--backend pycocotools|faster-coco-eval]
                              [--out-dir DIR]

Prints the 12 COCO numbers and a per-class AP table; writes DIR/metrics.json and
DIR/pr_curve.png (DIR defaults to the detections file's folder).
"""
import argparse
import json
import os
import os.path as osp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('ann_file', help='COCO annotation json (ground truth)')
    parser.add_argument('det_file', help='COCO results json (list of detections)')
    parser.add_argument('--backend', default='pycocotools',
                        choices=['pycocotools', 'faster-coco-eval'])
    parser.add_argument('--out-dir', help='where metrics.json and pr_curve.png go')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from detnas.evaluation.coco_eval import evaluate_detections, format_table, plot_pr_curves
    result = evaluate_detections(args.ann_file, args.det_file, args.backend)
    print(result.summary)
    print(format_table([[n, f'{ap:.4f}'] for n, ap in result.per_class_ap.items()],
                       ['class', 'AP']))
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.det_file))
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'metrics.json'), 'w') as f:
        json.dump(dict(backend=args.backend, ann_file=args.ann_file, det_file=args.det_file,
                       **result.to_json()), f, indent=2)
    plot_pr_curves(result, osp.join(out_dir, 'pr_curve.png'))
    print(f'wrote {osp.join(out_dir, "metrics.json")} and {osp.join(out_dir, "pr_curve.png")}')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
