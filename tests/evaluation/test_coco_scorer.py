"""CocoScorer: unrounded pycocotools numbers, half-sample spread, paired halves; the
search's paired comparison of two archs on them."""
import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detnas.evaluation.coco_eval import CocoScorer
from detnas.nas.evolution import ScoredCandidate
from detnas.nas.pipeline.stages import HeldoutComparison

CLASSES = ('a', 'b')


@pytest.fixture(scope='module')
def ann_file(tmp_path_factory):
    """20 images of 100x100, two boxes each (one per class)."""
    images, anns = [], []
    for i in range(1, 21):
        images.append(dict(id=i, file_name=f'{i}.jpg', width=100, height=100))
        for c, box in ((1, [10, 10, 30, 30]), (2, [50, 40, 20, 40])):
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=c, bbox=box,
                             area=box[2] * box[3], iscrowd=0))
    path = tmp_path_factory.mktemp('coco') / 'ann.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=[
        dict(id=1, name='a'), dict(id=2, name='b')])))
    return str(path)


def _dets(ann_file, found):
    """Exact boxes for the images in ``found``, nothing elsewhere."""
    gt = json.load(open(ann_file))
    return [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'],
                 score=0.9) for a in gt['annotations'] if a['image_id'] in found]


def _pycocotools(ann_file, dets, img_ids):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        gt.dataset['info'] = {}  # the file has none (optional); pycocotools' loadRes wants it
        ev = COCOeval(gt, gt.loadRes(dets), 'bbox')
        ev.params.imgIds = sorted(img_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def test_perfect_detections_score_one_with_no_spread(ann_file):
    scorer = CocoScorer(ann_file, CLASSES)
    got = scorer(_dets(ann_file, set(range(1, 21))))
    assert got['bbox_mAP'] == pytest.approx(1.0) and got['bbox_mAP_50'] == pytest.approx(1.0)
    assert got['bbox_mAP_se'] == 0.0
    assert got['bbox_mAP_s'] == pytest.approx(1.0)  # 900 and 800 px^2: both small boxes


def test_numbers_are_pycocotools_unrounded_and_halves_are_exact_subsets(ann_file):
    scorer = CocoScorer(ann_file, CLASSES, num_halves=8, seed=1)
    dets = _dets(ann_file, set(range(1, 14)))  # 13 of 20 images found
    got = scorer(dets)
    full = _pycocotools(ann_file, dets, range(1, 21))
    assert got['bbox_mAP'] == full[0] and got['bbox_mAP'] not in (round(full[0], 3), 0.65)
    ev = scorer.evaluate(dets)
    halves = scorer.half_aps(ev)
    for half, value in zip(scorer.halves, halves):
        assert len(half) == 10
        assert value == pytest.approx(_pycocotools(ann_file, dets, half)[0], abs=1e-12)
    assert got['bbox_mAP_se'] == pytest.approx(np.std(halves, ddof=1))
    assert got['bbox_mAP_se'] > 0.02  # which half holds the missed images moves AP


def test_labels_map_to_categories_as_mmdets_coco_dataset_does(ann_file):
    from mmdet.datasets import CocoDataset
    for classes in (CLASSES, ('b', )):
        dataset = CocoDataset(ann_file=ann_file, metainfo=dict(classes=classes),
                              data_prefix=dict(img=''), lazy_init=True)
        dataset.full_init()
        label_to_cat = {label: cat for cat, label in dataset.cat2label.items()}
        scorer = CocoScorer(ann_file, classes)
        for label, cat in label_to_cat.items():
            dets = scorer.detections(3, np.array([[50., 40., 70., 80.]]), np.array([0.8]),
                                     np.array([label]))
            assert dets == [dict(image_id=3, category_id=cat, bbox=[50., 40., 20., 40.],
                                 score=0.8)]
    assert label_to_cat == {0: 2}  # a one-class detector of 'b': label 0 is category 2


class _FixedDetections:
    """The two attributes of a HeldoutEvaluator that a comparison reads: the real scorer, and
    detections fixed per arch (counting the inference passes)."""

    def __init__(self, ann_file, found_by_arch):
        self.scorer = CocoScorer(ann_file, CLASSES, num_halves=8, seed=1)
        self.ann_file, self.found_by_arch, self.passes = ann_file, found_by_arch, []

    def detections(self, arch):
        self.passes.append(arch)
        return _dets(self.ann_file, self.found_by_arch[arch])


def test_paired_comparison_is_the_difference_of_pycocotools_aps_per_half(ann_file):
    evaluator = _FixedDetections(ann_file, {'all': set(range(1, 21)),
                                            'most': set(range(1, 14)) | {17, 19}})
    comparison = HeldoutComparison(evaluator, decode=lambda candidate: candidate[0])
    d = comparison.difference(('all', ), ('most', ))
    dets = {a: _dets(ann_file, f) for a, f in evaluator.found_by_arch.items()}
    full = {a: _pycocotools(ann_file, x, range(1, 21))[0] for a, x in dets.items()}
    assert d['difference'] == pytest.approx(full['all'] - full['most'], abs=1e-12)
    assert d['difference'] > 0.1
    per_half = [_pycocotools(ann_file, dets['all'], h)[0] -
                _pycocotools(ann_file, dets['most'], h)[0] for h in evaluator.scorer.halves]
    assert d['se'] == pytest.approx(np.std(per_half, ddof=1), abs=1e-12)
    assert d['se'] > 0.01
    assert d['halves'] == 8
    assert comparison.difference(('most', ), ('all', ))['difference'] == -d['difference']
    assert sorted(evaluator.passes) == ['all', 'most']  # one inference pass per arch

    best, other = (ScoredCandidate((a, ), dict(flops=f), 0.0, 0) for a, f in
                   (('all', 1.0), ('most', 2.0)))
    assert comparison.tied(d['difference'] / d['se'] + 0.01)(best, other)
    assert not comparison.tied(d['difference'] / d['se'] - 0.01)(best, other)
