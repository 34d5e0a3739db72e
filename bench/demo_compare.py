#!/usr/bin/env python
"""Compare detector configs on the demo data: AP over seeds, params, FLOPs, CPU latency.

    python bench/demo_compare.py NAME=CONFIG [NAME=CONFIG ...] --out bench/results/NAME
        [--seeds 0 1 2] [--max-epochs N] [--data-root data/demo_coco] [--tiny] ...

The code is :mod:`detnas.experiments.compare` (``-h`` lists every option).
"""
from detnas.experiments import compare

if __name__ == '__main__':
    compare.main()
