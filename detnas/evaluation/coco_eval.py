"""Evaluates a COCO detections json against an annotation file.

Two interchangeable backends: ``pycocotools`` (the reference) and ``faster-coco-eval``
(same numbers, a C++ core). Both yield the 12 standard COCO numbers, per-class AP and the
precision array for PR curves.
"""
import contextlib
import io
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from ..utils.errors import DetnasInputError
from ..utils.io import read_data_file

COCO_STAT_NAMES = ('AP', 'AP50', 'AP75', 'AP_s', 'AP_m', 'AP_l', 'AR1', 'AR10', 'AR100',
                   'AR_s', 'AR_m', 'AR_l')
BACKENDS = ('pycocotools', 'faster-coco-eval')


@dataclass
class CocoEvalResult:
    """Result of a COCO bbox evaluation.

    Args:
        stats: the 12 COCO numbers by name (:data:`COCO_STAT_NAMES`), in [0, 1]; -1 when a
            range has no ground truth.
        per_class_ap: AP@[.5:.95] per category name (nan when the class has no ground truth).
        precision: COCOeval's precision array [T=10, R=101, K, A=4, M=3].
        class_names: category names in the order of the K axis.
        summary: the backend's printed summary.
    """
    stats: Dict[str, float]
    per_class_ap: Dict[str, float]
    precision: np.ndarray
    class_names: List[str]
    summary: str

    def to_json(self) -> dict:
        """JSON-safe dict (nan per-class AP becomes null)."""
        return dict(stats=self.stats, per_class_ap={
            k: None if np.isnan(v) else v for k, v in self.per_class_ap.items()})


def _load_detections(det_file: str) -> list:
    dets = read_data_file(det_file, 'detections file')
    if not isinstance(dets, list) or (dets and not all(
            isinstance(d, dict) and {'image_id', 'category_id', 'bbox', 'score'} <= d.keys()
            for d in dets)):
        raise DetnasInputError(
            f'{det_file!r} is not a COCO detections file: expected a list of objects with '
            'image_id, category_id, bbox and score')
    return dets


def evaluate_detections(ann_file: str, det_file: str, backend: str = 'pycocotools'
                        ) -> CocoEvalResult:
    """COCO bbox evaluation.

    Args:
        ann_file: COCO annotation json (ground truth).
        det_file: COCO results json: a list of ``{image_id, category_id, bbox, score}``.
        backend: ``'pycocotools'`` or ``'faster-coco-eval'``.
    """
    if backend not in BACKENDS:
        raise DetnasInputError(f'unknown backend {backend!r}; choose one of {BACKENDS}')
    if not osp.isfile(ann_file):
        raise DetnasInputError(f'annotation file {ann_file!r} does not exist')
    dets = _load_detections(det_file)
    if backend == 'pycocotools':
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval as Eval
    else:
        from faster_coco_eval import COCO
        from faster_coco_eval import COCOeval_faster as Eval
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            gt = COCO(ann_file)
        except Exception as e:
            raise DetnasInputError(f'cannot read {ann_file!r} as COCO annotations: {e}') from e
        unknown = {d['image_id'] for d in dets} - set(gt.getImgIds())
        if unknown:
            raise DetnasInputError(f'{det_file!r} has detections for image ids not in '
                                   f'{ann_file!r}, e.g. {sorted(unknown)[:5]}')
        if dets:
            dt = gt.loadRes(dets)
        else:  # nothing detected: an empty result set over the same images
            dt = COCO()
            dt.dataset = dict(images=gt.dataset['images'], annotations=[],
                              categories=gt.dataset['categories'])
            dt.createIndex()
        ev = Eval(gt, dt, 'bbox')
        if backend == 'faster-coco-eval':
            ev.print_function = print
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = np.asarray(ev.eval['precision'])
    cat_ids = ev.params.catIds
    names = [gt.cats[int(c)]['name'] for c in cat_ids]
    per_class = {}
    for k, name in enumerate(names):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        per_class[name] = float(p.mean()) if p.size else float('nan')
    stats = {n: float(v) for n, v in zip(COCO_STAT_NAMES, ev.stats[:12])}
    return CocoEvalResult(stats, per_class, precision, names, buf.getvalue())


def plot_pr_curves(result: CocoEvalResult, path: str) -> None:
    """Writes precision-recall curves (all classes, area=all, maxDets=100) at IoU .5/.75
    and averaged over .5:.95 to a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    recall = np.linspace(0, 1, 101)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    p = result.precision[:, :, :, 0, -1].astype(float)
    p[p < 0] = np.nan
    with np.errstate(invalid='ignore'):
        for label, curve in (('IoU=0.50', np.nanmean(p[0], axis=1)),
                             ('IoU=0.75', np.nanmean(p[5], axis=1)),
                             ('IoU=0.50:0.95', np.nanmean(p, axis=(0, 2)))):
            ax.plot(recall, np.nan_to_num(curve), label=label)
    ax.set(xlabel='recall', ylabel='precision (mean over classes)', xlim=(0, 1),
           ylim=(0, 1.02), title=f'PR curves, AP={result.stats["AP"]:.3f}')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_table(rows: List[List[str]], header: List[str]) -> str:
    """A markdown table."""
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)
