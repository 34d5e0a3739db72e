#!/usr/bin/env python
"""Convert your own labels (Pascal VOC xml, YOLO txt or CSV) to a COCO json.

    python tools/dataset/convert.py {voc,yolo,csv} SRC --images IMG_DIR --out OUT.json
        [--classes a,b,c | --classes-file FILE]

mmdet's layout: the code is :mod:`detnas.tools.convert` (also ``detnas convert ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('convert')
