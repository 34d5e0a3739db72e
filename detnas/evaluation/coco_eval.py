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
    bad = [i for i, d in enumerate(dets) if not _finite_detection(d)]
    if bad:
        raise DetnasInputError(f'{det_file!r}: {len(bad)} detection(s) have a score or bbox '
                               f'that is not a finite number (or a bbox not of 4 numbers), '
                               f'first at index {bad[0]}: {dets[bad[0]]}')
    return dets


def _finite_detection(det: dict) -> bool:
    values = [det['score']] + (list(det['bbox']) if isinstance(det['bbox'], list) else [None])
    return len(values) == 5 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                    and np.isfinite(v) for v in values)


def load_ground_truth(coco_class, ann_file: str):
    """A pycocotools-style ``COCO`` of ``ann_file`` with the optional ``info`` and
    ``licenses`` keys filled in (pycocotools' ``loadRes`` copies them), refusing a file with
    no box (every metric would be -1).

    Args:
        coco_class: ``pycocotools.coco.COCO`` or faster-coco-eval's.
        ann_file: the annotation file.
    """
    try:
        gt = coco_class(ann_file)
    except Exception as e:
        raise DetnasInputError(f'cannot read {ann_file!r} as COCO annotations: {e}') from e
    gt.dataset.setdefault('info', {})
    gt.dataset.setdefault('licenses', [])
    if not gt.dataset.get('annotations'):
        raise DetnasInputError(f'{ann_file!r} holds no box, so every COCO metric would be -1; '
                               'evaluate against an annotated file')
    return gt


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
        gt = load_ground_truth(COCO, ann_file)
        unknown = {d['image_id'] for d in dets} - set(gt.getImgIds())
        if unknown:
            raise DetnasInputError(f'{det_file!r} has detections for image ids not in '
                                   f'{ann_file!r}, e.g. {sorted(unknown)[:5]}')
        cats = set(gt.getCatIds())
        foreign = [i for i, d in enumerate(dets) if d['category_id'] not in cats]
        if foreign:
            raise DetnasInputError(
                f'{det_file!r}: {len(foreign)} detection(s) have a category_id not in '
                f'{ann_file!r} (categories {sorted(cats)}), first at index {foreign[0]}: '
                f'category_id {dets[foreign[0]]["category_id"]}')
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


class CocoScorer:
    """Scores many detection sets on one annotation file (the candidates of a search):
    the ground truth is loaded once, the stats are pycocotools' unrounded ones, and the
    spread of AP over random halves of the images measures how much the image sample alone
    moves it (for a mean over images, the spread of half-sample means is the standard error
    of the full mean: half-sampling).

    Args:
        ann_file: COCO annotation json.
        class_names: the detector's classes; label ``i`` is the ``i``-th category (in the
            file's order) of those named there, as mmdet's CocoDataset maps them.
        num_halves: random halves of the images to re-accumulate.
        seed: seed of the halves (the same halves for every detection set: paired).
    """

    def __init__(self, ann_file: str, class_names, num_halves: int = 20, seed: int = 0):
        import random

        from pycocotools.coco import COCO
        with contextlib.redirect_stdout(io.StringIO()):
            self.gt = COCO(ann_file)
        for key in ('info', 'licenses'):  # optional in COCO; pycocotools' loadRes copies them
            self.gt.dataset.setdefault(key, {} if key == 'info' else [])
        self.cat_ids = self.gt.getCatIds(catNms=list(class_names))
        self.img_ids = sorted(self.gt.getImgIds())
        rng = random.Random(seed)
        half = max(1, len(self.img_ids) // 2)
        self.halves = [sorted(rng.sample(self.img_ids, half)) for _ in range(num_halves)]

    def detections(self, img_id: int, bboxes, scores, labels) -> List[dict]:
        """COCO result dicts of one image's predictions (``bboxes`` xyxy in image pixels)."""
        out = []
        for (x1, y1, x2, y2), score, label in zip(bboxes.tolist(), scores.tolist(),
                                                  labels.tolist()):
            out.append(dict(image_id=int(img_id), category_id=self.cat_ids[int(label)],
                            bbox=[x1, y1, x2 - x1, y2 - y1], score=float(score)))
        return out

    def evaluate(self, dets: List[dict]):
        """A pycocotools ``COCOeval`` with ``evaluate()`` run on ``dets`` (no accumulate)."""
        from pycocotools.cocoeval import COCOeval
        with contextlib.redirect_stdout(io.StringIO()):
            if dets:
                dt = self.gt.loadRes(dets)
            else:
                from pycocotools.coco import COCO
                dt = COCO()
                dt.dataset = dict(images=self.gt.dataset['images'], annotations=[],
                                  categories=self.gt.dataset['categories'])
                dt.createIndex()
            ev = COCOeval(self.gt, dt, 'bbox')
            ev.params.catIds = self.cat_ids
            ev.evaluate()
        return ev

    @staticmethod
    def stats(ev, img_ids=None) -> np.ndarray:
        """The 12 COCO numbers of an evaluated ``COCOeval`` over ``img_ids`` (default: the
        images it was evaluated on; repeats allowed). ``accumulate`` indexes ``evalImgs`` by
        the evaluated image list, so a subset gets its own copy of the entries in that
        layout."""
        full_ids = list(ev._paramsEval.imgIds)
        saved = ev.evalImgs, ev.params.imgIds, ev._paramsEval.imgIds
        if img_ids is not None:
            pos = {i: n for n, i in enumerate(full_ids)}
            areas, images = len(ev._paramsEval.areaRng), len(full_ids)
            cats = len(ev._paramsEval.catIds) if ev._paramsEval.useCats else 1
            ev.evalImgs = [saved[0][(k * areas + a) * images + pos[i]]
                           for k in range(cats) for a in range(areas) for i in img_ids]
            ev.params.imgIds = ev._paramsEval.imgIds = list(img_ids)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                ev.accumulate()
                ev.summarize()
        finally:
            ev.evalImgs, ev.params.imgIds, ev._paramsEval.imgIds = saved
        return np.asarray(ev.stats[:12], dtype=float)

    def __call__(self, dets: List[dict], with_se: bool = True) -> Dict[str, float]:
        """``bbox_mAP``, ``bbox_mAP_50``, ``bbox_mAP_s`` (unrounded; -1 where a range has no
        ground truth) and, with ``with_se``, ``bbox_mAP_se`` (the half-sample spread of
        ``bbox_mAP``)."""
        ev = self.evaluate(dets)
        full = self.stats(ev)
        out = dict(bbox_mAP=float(full[0]), bbox_mAP_50=float(full[1]),
                   bbox_mAP_s=float(full[3]))
        if with_se:
            halves = self.half_aps(ev)
            out['bbox_mAP_se'] = float(np.std(halves, ddof=1)) if len(halves) > 1 else 0.0
        return out

    def half_aps(self, ev) -> np.ndarray:
        """AP over each of :attr:`halves` of an evaluated ``COCOeval``."""
        return np.array([self.stats(ev, h)[0] for h in self.halves])
