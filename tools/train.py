#!/usr/bin/env python
"""Train a detector with mmengine's Runner (mmdet's tools/train.py conventions).

mmdet's layout: the code is :mod:`detnas.tools.train` (also ``detnas train ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('train')
