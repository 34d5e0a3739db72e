import contextlib
import io
import json
import os.path as osp

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detnas.evaluation import evaluate_detections
from detnas.utils.errors import DetnasInputError


def fake_detections(ann_file, seed=0):
    """Jittered ground truth with random scores plus random false positives."""
    rng = np.random.default_rng(seed)
    data = json.load(open(ann_file))
    dets = []
    for a in data['annotations']:
        if rng.random() < 0.8:
            x, y, w, h = a['bbox']
            j = rng.normal(0, 0.1, 4) * [w, h, w, h]
            dets.append(dict(image_id=a['image_id'], category_id=a['category_id'],
                             bbox=[x + j[0], y + j[1], max(1, w + j[2]), max(1, h + j[3])],
                             score=float(rng.uniform(0.3, 1))))
    for img in data['images']:
        for _ in range(3):
            dets.append(dict(image_id=img['id'], category_id=int(rng.integers(1, 7)),
                             bbox=rng.uniform(0, 60, 4).tolist(),
                             score=float(rng.uniform(0, 0.6))))
    return dets


def pycocotools_stats(ann_file, det_file):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        ev = COCOeval(gt, gt.loadRes(det_file), 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.mark.parametrize('backend', ['pycocotools', 'faster-coco-eval'])
def test_matches_pycocotools(tiny_coco, tmp_path, backend):
    ann = osp.join(tiny_coco, 'annotations', 'instances_train.json')
    det_file = tmp_path / 'dets.json'
    det_file.write_text(json.dumps(fake_detections(ann)))
    oracle = pycocotools_stats(ann, str(det_file))
    result = evaluate_detections(ann, str(det_file), backend)
    np.testing.assert_allclose(list(result.stats.values()), oracle[:12], atol=1e-6)
    assert 0.2 < result.stats['AP'] < 1.0  # the jittered boxes score, the noise does not
    assert set(result.per_class_ap) == {'circle', 'triangle', 'square', 'star', 'ring',
                                        'cross'}


def test_cli_writes_metrics_and_pr_curve(tiny_coco, tmp_path):
    from helpers import run_tool
    ann = osp.join(tiny_coco, 'annotations', 'instances_train.json')
    det_file = tmp_path / 'dets.json'
    det_file.write_text(json.dumps(fake_detections(ann, seed=1)))
    proc = run_tool(['tools/eval_coco.py', ann, str(det_file), '--backend',
                     'faster-coco-eval', '--out-dir', str(tmp_path / 'out')])
    assert proc.returncode == 0, proc.stderr
    metrics = json.load(open(tmp_path / 'out' / 'metrics.json'))
    oracle = pycocotools_stats(ann, str(det_file))
    assert abs(metrics['stats']['AP'] - oracle[0]) < 1e-6
    assert abs(metrics['stats']['AP_s'] - oracle[3]) < 1e-6
    assert (tmp_path / 'out' / 'pr_curve.png').stat().st_size > 5000
    assert '| circle |' in proc.stdout


def test_bad_detection_files(tiny_coco, tmp_path):
    ann = osp.join(tiny_coco, 'annotations', 'instances_val.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"not": "a list"}')
    with pytest.raises(DetnasInputError, match='not a COCO detections file'):
        evaluate_detections(ann, str(bad))
    bad.write_text(json.dumps([dict(image_id=999, category_id=1, bbox=[0, 0, 5, 5],
                                    score=0.5)]))
    with pytest.raises(DetnasInputError, match='image ids not in'):
        evaluate_detections(ann, str(bad))
    empty = tmp_path / 'empty.json'
    empty.write_text('[]')
    assert evaluate_detections(ann, str(empty)).stats['AP'] == 0


@pytest.mark.parametrize('backend', ['pycocotools', 'faster-coco-eval'])
@pytest.mark.parametrize('change,match', [
    (lambda d: d[3].update(score=float('nan')), r'1 detection\(s\) .* not a finite number.*'
                                                r'first at index 3'),
    (lambda d: d[5]['bbox'].__setitem__(2, float('inf')), r'first at index 5'),
    (lambda d: [x.update(category_id=0) for x in d[7:9]], r'2 detection\(s\) have a '
                                                          r'category_id not in .* index 7'),
])
def test_detections_that_would_silently_change_the_ap_are_refused(tiny_coco, tmp_path,
                                                                  backend, change, match):
    ann = osp.join(tiny_coco, 'annotations', 'instances_val.json')
    dets = fake_detections(ann)
    change(dets)
    path = tmp_path / 'dets.json'
    path.write_text(json.dumps(dets))
    with pytest.raises(DetnasInputError, match=match):
        evaluate_detections(ann, str(path), backend)


def test_optional_coco_keys_may_be_missing_and_boxless_files_are_refused(tiny_coco, tmp_path):
    data = json.load(open(osp.join(tiny_coco, 'annotations', 'instances_val.json')))
    del data['info'], data['licenses']  # many converters write neither
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(data))
    det_file = tmp_path / 'dets.json'
    det_file.write_text(json.dumps(fake_detections(str(ann))))
    for backend in ('pycocotools', 'faster-coco-eval'):
        result = evaluate_detections(str(ann), str(det_file), backend)
        assert result.stats['AP'] == pytest.approx(
            evaluate_detections(osp.join(tiny_coco, 'annotations', 'instances_val.json'),
                                str(det_file), backend).stats['AP'])
    data['annotations'] = []
    ann.write_text(json.dumps(data))
    with pytest.raises(DetnasInputError, match='holds no box'):
        evaluate_detections(str(ann), str(det_file))


def test_mmdets_coco_metric_accepts_files_without_the_optional_keys(tiny_coco, tmp_path):
    """mmdet's CocoMetric fails with KeyError 'info' on such files unless detnas is
    imported (it wraps mmdet's COCO loader)."""
    import detnas  # noqa: F401
    from mmdet.evaluation import CocoMetric
    data = json.load(open(osp.join(tiny_coco, 'annotations', 'instances_val.json')))
    del data['info'], data['licenses']
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(data))
    metric = CocoMetric(ann_file=str(ann), metric='bbox')
    metric.dataset_meta = dict(classes=[c['name'] for c in data['categories']])
    for a in data['annotations'][:5]:
        x, y, w, h = a['bbox']
        pred = dict(img_id=a['image_id'], bboxes=np.array([[x, y, x + w, y + h]]),
                    scores=np.array([0.9]), labels=np.array([a['category_id'] - 1]))
        metric.results.append((dict(img_id=a['image_id'], width=128, height=128, anns=[]),
                               pred))
    assert 0 < metric.compute_metrics(metric.results)['bbox_mAP'] <= 1
