#!/usr/bin/env python
"""Adapt a seed detector's backbone by architecture search (supernet + NSGA-II) and export it.

mmdet's layout: the code is :mod:`detnas.tools.search` (also ``detnas search ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('search')
