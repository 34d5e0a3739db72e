#!/usr/bin/env python
"""Generate the embedded demo detection data set (COCO json + jpg images).

    python tools/dataset/make_demo_coco.py --out data/demo_coco [--seed 0]
        [--num-train 320] [--num-val 80] [--size 320 320]

Objects are shapes filled with real textures pasted on crops of real photos bundled with
scikit-image and scikit-learn; train and val use disjoint background photos.
"""
import argparse
import time

from detnas.datasets.demo_coco import DemoCocoSpec


def parse_args():
    d = DemoCocoSpec()
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/demo_coco', help='output folder')
    parser.add_argument('--seed', type=int, default=d.seed)
    parser.add_argument('--num-train', type=int, default=d.num_train)
    parser.add_argument('--num-val', type=int, default=d.num_val)
    parser.add_argument('--size', type=int, nargs=2, default=d.image_size, metavar=('H', 'W'))
    parser.add_argument('--min-size', type=int, default=d.min_size,
                        help='smallest object side (px)')
    parser.add_argument('--max-size', type=int, default=d.max_size,
                        help='largest object side (px)')
    return parser.parse_args()


def main():
    args = parse_args()
    from detnas.datasets.demo_coco import make_demo_coco
    from detnas.utils.errors import DetnasInputError
    try:
        spec = DemoCocoSpec(seed=args.seed, num_train=args.num_train, num_val=args.num_val,
                            image_size=tuple(args.size), min_size=args.min_size,
                            max_size=args.max_size)
    except ValueError as e:
        raise DetnasInputError(str(e)) from e
    start = time.time()
    files = make_demo_coco(args.out, spec)
    print(f'wrote {files["train"]} and {files["val"]} in {time.time() - start:.0f} s')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
