"""Look at a COCO data set: draw its boxes with class names, print box-size statistics.

    python tools/analysis/browse_dataset.py ANN.json --images IMG_DIR [--out-dir DIR]
        [--num N]

Prints the boxes per class and the shares of small / medium / large boxes by COCO's area
thresholds (32^2 and 96^2 px^2: the sizes that AP_s, AP_m and AP_l score), per class too,
and writes them to DIR/size_stats.json; draws the boxes of the first N images (by id) into
DIR as JPEGs (DIR defaults to work_dirs/browse/<ANN name>).
"""
import argparse
import os.path as osp


def parse_args(argv=None):
    from detnas.datasets.browse import SIZE_RULE
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog=f'Sizes: {SIZE_RULE}. e.g. python tools/analysis/browse_dataset.py '
               'data/mine/train.json --images data/mine/images --num 50')
    parser.add_argument('ann_file', metavar='ANN.json', help='COCO annotation file')
    parser.add_argument('--images', required=True, metavar='IMG_DIR',
                        help='images folder (the file names in ANN.json are relative to it)')
    parser.add_argument('--out-dir', metavar='DIR',
                        help='where the drawings and size_stats.json go (default: '
                        'work_dirs/browse/<ANN name>)')
    parser.add_argument('--num', type=int, default=20,
                        help='images to draw, the first by id (default 20; 0: statistics only)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from detnas.datasets.browse import draw_dataset, format_size_stats, size_stats
    from detnas.datasets.coco_files import load_coco_index
    from detnas.utils.io import atomic_write_json
    index = load_coco_index(args.ann_file)
    stats = size_stats(index)
    print(format_size_stats(stats))
    out_dir = args.out_dir or osp.join(
        'work_dirs', 'browse', osp.splitext(osp.basename(args.ann_file))[0])
    written = draw_dataset(index, args.images, out_dir, args.num)
    atomic_write_json(osp.join(out_dir, 'size_stats.json'),
                      dict(ann_file=args.ann_file, **stats))
    print(f'wrote {len(written)} drawn image(s) and size_stats.json to {out_dir}/')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
