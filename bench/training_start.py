#!/usr/bin/env python
"""How fast a detector's classification loss leaves its starting value, from finished runs'
mmengine scalars logs (no training).

    python bench/training_start.py NAME=RUN_DIR [NAME=RUN_DIR ...] \\
        [--below 1.0] [--early-iters 100] [--out bench/results/NAME]

Per run: the first logged iteration with ``loss_cls`` under ``--below``, the mean
``grad_norm`` over the first ``--early-iters`` iterations and the last logged ``loss_cls``.
Writes OUT.json and OUT.md.
"""
import argparse
import os.path as osp
from typing import Optional

from detnas.experiments import logged_scalars
from detnas.experiments.results import run_header, write_results


def training_start(run_dir: str, below: float, early_iters: int) -> dict:
    """The start-of-training summary of one run.

    Args:
        run_dir: the run's work dir (holds ``<timestamp>/vis_data/scalars.json``).
        below: the ``loss_cls`` level that counts as having left the start.
        early_iters: the iterations over which ``grad_norm`` is averaged.
    """
    loss_cls = logged_scalars(run_dir, 'loss_cls')
    if not loss_cls:
        raise SystemExit(f'error: {run_dir}: no loss_cls in a vis_data/scalars.json under it; '
                         'give the work dir of a finished training run')
    grads = [g for i, g in logged_scalars(run_dir, 'grad_norm') if i <= early_iters]
    first_below: Optional[int] = next((i for i, v in loss_cls if v < below), None)
    return dict(first_loss_cls=loss_cls[0][1], first_iter_below=first_below,
                early_grad_norm=sum(grads) / len(grads) if grads else None,
                last_loss_cls=loss_cls[-1][1], last_iter=loss_cls[-1][0])


def to_markdown(r: dict) -> str:
    lines = [f"Command: `{r['command']}`.", '',
             f"| run | first loss_cls | first iteration with loss_cls < {r['below']} | "
             f"mean grad_norm, iterations <= {r['early_iters']} | last loss_cls |",
             '|---|---|---|---|---|']
    for name, s in r['runs'].items():
        grad = 'n/a' if s['early_grad_norm'] is None else f"{s['early_grad_norm']:.2f}"
        lines.append(f"| {name} | {s['first_loss_cls']:.3f} | "
                     f"{s['first_iter_below'] or 'never'} of {s['last_iter']} | {grad} | "
                     f"{s['last_loss_cls']:.3f} |")
    return '\n'.join(lines) + '\n'


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('runs', nargs='+', metavar='NAME=RUN_DIR')
    p.add_argument('--below', type=float, default=1.0)
    p.add_argument('--early-iters', type=int, default=100)
    p.add_argument('--out', default='bench/results/training_start')
    args = p.parse_args(argv)
    runs = {}
    for item in args.runs:
        name, sep, run_dir = item.partition('=')
        if not sep or not osp.isdir(run_dir):
            p.error(f'{item!r}: expected NAME=RUN_DIR with an existing run dir')
        runs[name] = training_start(run_dir, args.below, args.early_iters)
    result = dict(run_header('bench/training_start.py', argv), below=args.below,
                  early_iters=args.early_iters, runs=runs)
    print(write_results(osp.dirname(args.out) or '.', osp.basename(args.out), result,
                        to_markdown))
    return result


if __name__ == '__main__':
    main()
