"""Write a search's Pareto front as ``pareto.json``, ``pareto.csv`` and ``pareto.png``.

Model-independent: records are :class:`ScoredCandidate` objects or dicts with ``candidate``
and ``metrics``. The plot has one panel per cost metric (e.g. FLOPs, latency) against a
quality metric (e.g. AP), in the units of :data:`AXES`: every scored candidate in grey, the
candidates no other beats on *that pair* (the 2-D non-dominated front, :func:`front_2d`) as
a staircase, and optionally the seed (reference) and the chosen candidate marked. The
search's own front is over all objectives at once, so its members need not lie on a panel's
2-D front.
"""
import csv
import os
import os.path as osp
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from detnas.utils.io import atomic_write_json

# metric -> (axis label with its unit, factor from the stored value to that unit)
AXES = {'flops': ('backbone FLOPs (M)', 1e-6), 'params': ('backbone parameters (M)', 1e-6),
        'latency_ms': ('backbone latency (ms)', 1.0), 'bbox_mAP': ('held-out AP (%)', 100.0)}


def front_2d(rows: Sequence[Dict[str, Any]], x_key: str, y_key: str) -> list:
    """The rows that no other row beats on (lower ``x_key``, higher ``y_key``), by x.

    Args:
        rows: dicts with ``metrics``; rows lacking either metric are left out.
        x_key: the cost metric (lower is better).
        y_key: the quality metric (higher is better).
    """
    usable = [r for r in rows if x_key in r['metrics'] and y_key in r['metrics']]
    usable.sort(key=lambda r: (r['metrics'][x_key], -r['metrics'][y_key]))
    front, best = [], float('-inf')
    for row in usable:
        if row['metrics'][y_key] > best:
            front.append(row)
            best = row['metrics'][y_key]
    return front


def _as_dict(record: Any) -> Dict[str, Any]:
    data = record.to_dict() if hasattr(record, 'to_dict') else dict(record)
    data['candidate'] = list(data['candidate'])
    data['metrics'] = dict(data['metrics'])
    return data


def write_pareto(out_dir: str, front: Sequence[Any], records: Sequence[Any] = (),
                 x_keys: Sequence[str] = ('flops', ), y_key: str = 'bbox_mAP',
                 reference: Optional[Mapping[str, float]] = None,
                 reference_label: str = 'seed', chosen: Any = None,
                 describe: Optional[Callable[[Sequence[int]], Any]] = None,
                 title: str = 'Pareto front') -> Dict[str, str]:
    """Writes the front as JSON, CSV and a PNG plot; returns the three paths.

    Args:
        out_dir: output folder (created if needed).
        front: the non-dominated records.
        records: every scored record (plotted in grey); may be empty.
        x_keys: the cost metrics, one panel each (e.g. ``('flops', 'latency_ms')``); a
            metric no record has gets no panel.
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
    scored = [_as_dict(r) for r in records] or front_rows
    panels = {x: front_2d(scored, x, y_key) for x in x_keys}
    panels = {x: rows for x, rows in panels.items() if rows}
    atomic_write_json(paths['json'], dict(
        x_keys=list(x_keys), y_key=y_key, front=front_rows, chosen=chosen_row,
        front_2d={x: [r['candidate'] for r in rows] for x, rows in panels.items()},
        reference=dict(label=reference_label, metrics=dict(reference)) if reference else None,
        num_scored=len(records)))
    _write_csv(paths['csv'], front_rows)
    _plot(paths['png'], scored, panels, y_key, reference, reference_label, chosen_row, title)
    return paths


def _write_csv(path: str, rows: Sequence[Dict[str, Any]]) -> None:
    keys = sorted({k for row in rows for k in row['metrics']})
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['index', 'candidate', 'chosen', *keys])
        for i, row in enumerate(rows):
            writer.writerow([i, '-'.join(str(g) for g in row['candidate']), int(row['chosen']),
                             *(row['metrics'].get(k, '') for k in keys)])


def _axis(key: str):
    return AXES.get(key, (key, 1.0))


def _plot(path, records, panels, y_key, reference, reference_label, chosen, title):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * max(1, len(panels)), 4.5), dpi=120)
    FigureCanvasAgg(fig)
    y_label, y_scale = _axis(y_key)
    for i, (x_key, front) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), i + 1)
        x_label, x_scale = _axis(x_key)

        def xy(rows):
            rows = [r for r in rows if x_key in r and y_key in r]
            return [r[x_key] * x_scale for r in rows], [r[y_key] * y_scale for r in rows]

        xs, ys = xy([r['metrics'] for r in records])
        ax.scatter(xs, ys, s=12, c='0.7', label=f'scored ({len(xs)})')
        fx, fy = xy([r['metrics'] for r in front])
        ax.step(fx, fy, '-o', where='post', color='tab:blue', ms=5,
                label=f'non-dominated ({len(fx)})')
        rx, ry = xy([reference] if reference else [])
        ax.scatter(rx, ry, marker='*', s=160, c='tab:red', zorder=5, label=reference_label)
        cx, cy = xy([chosen['metrics']] if chosen else [])
        ax.scatter(cx, cy, marker='D', s=70, facecolors='none', edgecolors='tab:green',
                   linewidths=2, zorder=6, label='chosen')
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.grid(alpha=0.3)
        ax.legend(loc='lower right', fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
