#!/usr/bin/env python
"""Look at a COCO data set: draw its boxes with class names, print box-size statistics.

    python tools/analysis/browse_dataset.py ANN.json --images IMG_DIR [--out-dir DIR]
        [--num N]

mmdet's layout: the code is :mod:`detnas.tools.browse` (also ``detnas browse ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('browse')
