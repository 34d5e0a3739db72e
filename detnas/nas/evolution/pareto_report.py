"""Write a search's Pareto front as ``pareto.json``, ``pareto.csv`` and ``pareto.png``.

Model-independent: records are :class:`ScoredCandidate` objects or dicts with ``candidate``
and ``metrics``; the plot puts a cost metric on x (e.g. FLOPs) and a quality metric on y
(e.g. AP), all scored candidates in grey, the front highlighted, and optionally the seed
(reference) and the chosen candidate marked.
"""
import csv
import os
import os.path as osp
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from detnas.utils.io import atomic_write_json


def _as_dict(record: Any) -> Dict[str, Any]:
    data = record.to_dict() if hasattr(record, 'to_dict') else dict(record)
    data['candidate'] = list(data['candidate'])
    data['metrics'] = dict(data['metrics'])
    return data


def write_pareto(out_dir: str, front: Sequence[Any], records: Sequence[Any] = (),
                 x_key: str = 'flops', y_key: str = 'bbox_mAP',
                 reference: Optional[Mapping[str, float]] = None,
                 reference_label: str = 'seed', chosen: Any = None,
                 describe: Optional[Callable[[Sequence[int]], Any]] = None,
                 title: str = 'Pareto front') -> Dict[str, str]:
    """Writes the front as JSON, CSV and a PNG plot; returns the three paths.

    Args:
        out_dir: output folder (created if needed).
        front: the non-dominated records.
        records: every scored record (plotted in grey); may be empty.
        x_key: metric on the x axis (a cost, e.g. ``'flops'``).
        y_key: metric on the y axis (a quality, e.g. ``'bbox_mAP'``).
        reference: metrics of a reference point (the seed), marked on the plot and stored.
        reference_label: legend label of the reference point.
        chosen: the record picked for export (marked and flagged), or None.
        describe: optional map from an encoding to a readable architecture (stored in the
            JSON as ``arch``).
        title: plot title.
    """
    os.makedirs(out_dir, exist_ok=True)
    front_rows = [_as_dict(r) for r in front]
    chosen_row = _as_dict(chosen) if chosen is not None else None
    for row in front_rows:
        row['chosen'] = chosen_row is not None and row['candidate'] == chosen_row['candidate']
        if describe is not None:
            row['arch'] = describe(tuple(row['candidate']))
    paths = dict(json=osp.join(out_dir, 'pareto.json'), csv=osp.join(out_dir, 'pareto.csv'),
                 png=osp.join(out_dir, 'pareto.png'))
    atomic_write_json(paths['json'], dict(
        x_key=x_key, y_key=y_key, front=front_rows, chosen=chosen_row,
        reference=dict(label=reference_label, metrics=dict(reference)) if reference else None,
        num_scored=len(records)))
    _write_csv(paths['csv'], front_rows)
    _plot(paths['png'], [_as_dict(r) for r in records], front_rows, x_key, y_key, reference,
          reference_label, chosen_row, title)
    return paths


def _write_csv(path: str, rows: Sequence[Dict[str, Any]]) -> None:
    keys = sorted({k for row in rows for k in row['metrics']})
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['index', 'candidate', 'chosen', *keys])
        for i, row in enumerate(rows):
            writer.writerow([i, '-'.join(str(g) for g in row['candidate']), int(row['chosen']),
                             *(row['metrics'].get(k, '') for k in keys)])


def _points(rows, x_key, y_key):
    usable = [r['metrics'] for r in rows if x_key in r['metrics'] and y_key in r['metrics']]
    return [m[x_key] for m in usable], [m[y_key] for m in usable]


def _plot(path, records, front, x_key, y_key, reference, reference_label, chosen, title):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs, ys = _points(records, x_key, y_key)
    if xs:
        ax.scatter(xs, ys, s=12, c='0.7', label=f'scored ({len(xs)})')
    fx, fy = _points(sorted(front, key=lambda r: r['metrics'].get(x_key, 0)), x_key, y_key)
    if fx:
        ax.plot(fx, fy, '-o', color='tab:blue', ms=5, label=f'Pareto front ({len(fx)})')
    if reference and x_key in reference and y_key in reference:
        ax.scatter([reference[x_key]], [reference[y_key]], marker='*', s=160, c='tab:red',
                   zorder=5, label=reference_label)
    if chosen and x_key in chosen['metrics'] and y_key in chosen['metrics']:
        ax.scatter([chosen['metrics'][x_key]], [chosen['metrics'][y_key]], marker='D', s=70,
                   facecolors='none', edgecolors='tab:green', linewidths=2, zorder=6,
                   label='chosen')
    ax.set_xlabel(x_key)
    ax.set_ylabel(y_key)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc='best', fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
