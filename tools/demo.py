#!/usr/bin/env python
"""The main job on the embedded default: demo data -> seed detector -> backbone adaptation

mmdet's layout: the code is :mod:`detnas.tools.demo` (also ``detnas demo ...``)."""
if __name__ == '__main__':
    from detnas.tools import run
    run('demo')
