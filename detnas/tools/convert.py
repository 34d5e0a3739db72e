"""Convert your own labels to a COCO json: Pascal VOC xml, YOLO txt or CSV.

    python tools/dataset/convert.py {voc,yolo,csv} SRC --images IMG_DIR --out OUT.json
        [--classes a,b,c | --classes-file FILE]

SRC is a folder of .xml files (voc), a folder of .txt label files (yolo: ``class cx cy w
h`` as fractions of the image; needs the class names) or a CSV file (csv: rows
``image,xmin,ymin,xmax,ymax,label`` in pixels, an optional header). Image names in the
json are relative to IMG_DIR. The classes are the given list (category ids 1.. in its
order; boxes of other classes are dropped) or every label in the data, sorted.

Every image and box is checked (:mod:`detnas.datasets.convert.writer`): missing, empty or
undecodable images are dropped with their boxes; boxes under 1 px wide or high are
dropped; boxes sticking out of the image are clipped to it, and dropped when under 1 px of
them is inside. The report (kept, clipped, dropped by reason with the files) is printed
and written to OUT.report.json; the json loads in ``ValidatedCocoDataset``.
"""
import argparse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='e.g. python tools/dataset/convert.py yolo labels/train --images images/train '
               '--out data/mine/train.json --classes-file classes.txt')
    parser.add_argument('format', choices=['voc', 'yolo', 'csv'], help='label format')
    parser.add_argument('src', help='folder of .xml (voc) or .txt (yolo) files, or a CSV file')
    parser.add_argument('--images', required=True, metavar='IMG_DIR',
                        help='images folder (names in the json are relative to it)')
    parser.add_argument('--out', required=True, metavar='OUT.json', help='COCO json to write')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--classes', help='class names in category-id order, e.g. cat,dog')
    group.add_argument('--classes-file', metavar='FILE',
                       help='class names, one a line (line i = YOLO class i), or a YOLO '
                       'data .yaml with names')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from detnas.datasets.convert import (convert, format_report, parse_classes,
                                         read_classes_file, report_path)
    classes = (parse_classes(args.classes) if args.classes else
               read_classes_file(args.classes_file) if args.classes_file else None)
    report = convert(args.format, args.src, args.images, args.out, classes)
    print(format_report(report))
    print(f'wrote {args.out} and {report_path(args.out)}')
    names = ', '.join(repr(n) for n in report['classes'])
    print(f"in a config: dataset=dict(data_root='', ann_file='{args.out}', "
          f"data_prefix=dict(img='{args.images.rstrip('/')}/'),\n"
          f"    metainfo=dict(classes=({names}{',' if len(report['classes']) == 1 else ''}))) "
          f"and the head's num_classes={len(report['classes'])}")


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
