#!/usr/bin/env python
"""Evaluate a COCO detections json against an annotation file.

mmdet's layout: the code is :mod:`detnas.tools.eval_coco` (also ``detnas eval-coco ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('eval_coco')
