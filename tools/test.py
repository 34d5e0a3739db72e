#!/usr/bin/env python
"""Evaluate a trained detector (mmdet's tools/test.py conventions).

mmdet's layout: the code is :mod:`detnas.tools.test` (also ``detnas test ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('test')
