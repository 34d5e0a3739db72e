"""Cut the images of a COCO data set into overlapping tiles, for large images with small
objects (aerial, microscopy, documents).

    python tools/dataset/tile.py ANN.json --images IMG_DIR --out-dir OUT [--size 640]
        [--overlap 128] [--min-visible 0.5] [--keep-empty 1]

Writes the tiles to OUT/images/ (``<image stem>_<x0>_<y0><ext>``) and the tiled COCO json
to OUT/<ANN.json's name>, its report to OUT/<name>.report.json. Each box is clipped to each
tile it touches; every tile records ``tile_of`` (its source image id) and ``tile_offset``
(``[x0, y0]`` in the source image), every box ``part_of`` (its source annotation id), so
results map back (:func:`detnas.datasets.tiler.merge_back`, ``tile_to_image``). Train on the
tiles at about their size (e.g. a 640 px resize for 640 px tiles).
"""
import argparse


def parse_args(argv=None):
    from detnas.datasets.tiler import EMPTY_RULE, VISIBLE_RULE
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='e.g. python tools/dataset/tile.py data/aerial/train.json --images '
               'data/aerial/images --out-dir data/aerial_tiles --size 640 --overlap 128')
    parser.add_argument('ann_file', metavar='ANN.json', help='COCO annotation file to tile')
    parser.add_argument('--images', required=True, metavar='IMG_DIR',
                        help='images folder (the file names in ANN.json are relative to it)')
    parser.add_argument('--out-dir', required=True, metavar='OUT',
                        help='output folder: OUT/images/ and OUT/<ANN.json name>')
    parser.add_argument('--size', type=int, default=640, help='tile side in px (default 640)')
    parser.add_argument('--overlap', type=int, default=128,
                        help='least overlap of neighbouring tiles in px (default 128); at '
                        'least the size of your objects keeps each whole in some tile')
    parser.add_argument('--min-visible', type=float, default=0.5, metavar='MIN_VISIBLE',
                        help=f'default 0.5: {VISIBLE_RULE}')
    parser.add_argument('--keep-empty', type=float, default=1.0, metavar='KEEP_EMPTY',
                        help=EMPTY_RULE)
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from detnas.datasets.convert import report_path
    from detnas.datasets.tiler import format_tile_report, tile_dataset
    report = tile_dataset(args.ann_file, args.images, args.out_dir, size=args.size,
                          overlap=args.overlap, min_visible=args.min_visible,
                          keep_empty=args.keep_empty, progress=not args.no_progress)
    print(format_tile_report(report))
    print(f'wrote {report["tiles_dir"]}/, {report["out"]} and {report_path(report["out"])}')
    print(f"in a config: dataset=dict(data_root='', ann_file='{report['out']}', "
          f"data_prefix=dict(img='{report['tiles_dir']}/'), ...)")


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
