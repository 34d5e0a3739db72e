#!/usr/bin/env python
"""Cut the images of a COCO data set into overlapping tiles (large images, small objects).

    python tools/dataset/tile.py ANN.json --images IMG_DIR --out-dir OUT [--size 640]
        [--overlap 128] [--min-visible 0.5] [--keep-empty 1]

mmdet's layout: the code is :mod:`detnas.tools.tile` (also ``detnas tile ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('tile')
