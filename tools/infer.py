#!/usr/bin/env python
"""Detect objects in images with a trained detector; sliced inference for large images.

    python tools/infer.py IMG_OR_DIR CONFIG CHECKPOINT [--out-dir outputs] [--score-thr 0.3]
        [--slice SIZE]

mmdet's layout: the code is :mod:`detnas.tools.infer` (also ``detnas infer ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('infer')
