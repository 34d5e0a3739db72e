"""Inference on images: batched prediction against mmdet's own per-image inference, the
sliced-inference merge on hand-built boxes, and tools/infer.py end to end."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import ROOT
from mmengine.structures import InstanceData

CFG = osp.join(ROOT, 'tests/configs/retinanet_tiny.py')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """The tiny RetinaNet with random weights saved as a checkpoint: (config, checkpoint)."""
    import detnas  # noqa: F401
    from detnas.utils.config import build_detector
    torch.manual_seed(0)
    model = build_detector(CFG)
    path = str(tmp_path_factory.mktemp('ckpt') / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dict(
        classes=('circle', 'triangle', 'square', 'star', 'ring', 'cross')))), path)
    return CFG, path


def _val_images(tiny_coco, n=3):
    return [osp.join(tiny_coco, 'val', f'val_{i:05d}.jpg') for i in range(n)]


def test_batched_prediction_equals_mmdets_per_image_inference(trained, tiny_coco):
    from mmdet.apis import inference_detector

    from detnas.apis import load_trained_detector, predict_images
    model = load_trained_detector(*trained)
    images = _val_images(tiny_coco)
    got = predict_images(model, images, batch_size=3)
    for path, det in zip(images, got):
        want = inference_detector(model, path).pred_instances
        assert len(det) == len(want) > 0
        assert torch.allclose(det.bboxes, want.bboxes.cpu(), atol=1e-3)
        assert torch.equal(det.labels, want.labels.cpu())


def test_one_tile_is_the_whole_image(trained, tiny_coco):
    import mmcv

    from detnas.apis import load_trained_detector, predict_images, predict_sliced
    model = load_trained_detector(*trained)
    image = mmcv.imread(_val_images(tiny_coco, 1)[0])
    whole = predict_images(model, [image])[0]
    sliced = predict_sliced(model, image, tile_size=128, overlap=32)
    # the merge's NMS may only drop boxes; the model's own NMS already kept these
    assert len(sliced) > 0
    assert torch.allclose(sliced.bboxes, whole.bboxes[:len(sliced)], atol=1e-4)


def _dets(boxes, scores, labels):
    return InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32),
                        scores=torch.tensor(scores), labels=torch.tensor(labels))


def test_merge_keeps_the_best_of_overlapping_boxes_of_a_class():
    from detnas.apis import merge_detections
    tile_a = _dets([[10, 10, 50, 50], [100, 100, 120, 120]], [0.9, 0.4], [0, 1])
    tile_b = _dets([[12, 10, 52, 50], [12, 10, 52, 50]], [0.8, 0.7], [0, 2])
    merged = merge_detections([tile_a, tile_b], iou_threshold=0.5)
    # class 0: the 0.8 box overlaps the 0.9 box by IoU 0.9 -> dropped; other classes stay
    assert merged.scores.tolist() == pytest.approx([0.9, 0.7, 0.4])
    assert merged.labels.tolist() == [0, 2, 1]
    assert len(merge_detections([tile_a, tile_b], max_per_img=2)) == 2


def test_boxes_cut_by_an_inner_tile_edge_are_dropped():
    from detnas.apis.sliced import _inside_tile
    # a tile in the middle of the top row of a 300 x 200 image: x from 100 to 200
    boxes = torch.tensor([[1.0, 0, 20, 20],   # touches the left edge (inner) -> drop
                          [30, 0, 60, 20],    # touches the top edge (the image's) -> keep
                          [80, 50, 99.5, 70],  # touches the right edge (inner) -> drop
                          [30, 80, 60, 99]])  # touches the bottom edge (inner) -> drop
    keep = _inside_tile(boxes, (100, 0, 200, 100), width=300, height=200, margin=2)
    assert keep.tolist() == [False, True, False, False]


@pytest.mark.slow
def test_infer_tool_writes_predictions_and_drawings(trained, tiny_coco, tmp_path):
    from helpers import run_tool

    from detnas.apis import load_trained_detector, predict_images
    out = tmp_path / 'out'
    proc = run_tool(['tools/infer.py', osp.join(tiny_coco, 'val'), *trained, '--out-dir',
                     str(out), '--score-thr', '0.0', '--batch-size', '2'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = sorted(p.name for p in (out / 'preds').iterdir())
    assert names == [f'val_{i:05d}.json' for i in range(6)]
    assert sorted(p.name for p in (out / 'vis').iterdir()) == [
        n.replace('.json', '.jpg') for n in names]
    model = load_trained_detector(*trained)
    want = predict_images(model, _val_images(tiny_coco, 1))[0]
    got = json.loads((out / 'preds' / 'val_00000.json').read_text())
    assert np.allclose(got['bboxes'], want.bboxes.numpy(), atol=1e-3)
    missing = run_tool(['tools/infer.py', str(tmp_path / 'nowhere'), *trained])
    assert missing.returncode == 2 and 'nowhere' in missing.stderr.strip().splitlines()[-1]
