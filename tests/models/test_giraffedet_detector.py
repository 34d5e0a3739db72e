"""Whole GiraffeDet detectors built from the configs in configs/giraffedet/."""
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmdet.utils import register_all_modules
from mmengine.structures import InstanceData

import detnas  # noqa: F401  (registers the modules)
from detnas.utils.complexity import model_complexity

register_all_modules()  # default scope 'mmdet', as the configs' default_scope

CFG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'giraffedet')


def _build(name, **neck):
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    cfg.model.neck.update(neck)
    return MODELS.build(cfg.model)


def _batch(hw=(64, 96)):
    inputs, samples = [], []
    for i, boxes in enumerate([[[4., 6., 30., 40.], [40., 20., 90., 60.]],
                               [[20., 20., 36., 34.]]]):
        inputs.append(torch.randint(0, 256, (3, *hw), dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(img_shape=hw, ori_shape=hw,
                                             scale_factor=(1., 1.)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor(boxes),
                                           labels=torch.tensor([i, 5][:len(boxes)]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_one_training_step_of_the_demo_detector():
    torch.manual_seed(0)
    model = _build('giraffedet_tiny_demo.py')
    model.init_weights()
    model.train()
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = model.data_preprocessor(_batch(), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_dfl'}
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    assert all(torch.isfinite(v).all() for vs in losses.values() for v in vs)
    assert float(sum(losses['loss_bbox'])) > 0  # the ATSS assigner found positives
    loss.backward()
    stem_grad = model.backbone.stem[0].conv.weight.grad
    assert stem_grad is not None and torch.isfinite(stem_grad).all()
    assert stem_grad.abs().sum() > 0
    assert model.bbox_head.dgqp.mlp[0].weight.grad.abs().sum() > 0
    before = model.backbone.stem[0].conv.weight.detach().clone()
    optim.step()
    assert not torch.equal(before, model.backbone.stem[0].conv.weight)


def test_demo_detector_predicts_on_an_odd_size():
    model = _build('giraffedet_tiny_demo.py').eval()
    model.test_cfg.score_thr = 0.0
    data = model.data_preprocessor(_batch(hw=(83, 101)), training=False)
    with torch.no_grad():
        results = model(**data, mode='predict')
    assert len(results) == 2
    scores = results[0].pred_instances.scores
    assert len(scores) > 0 and (scores >= 0).all() and (scores <= 1).all()


@pytest.mark.parametrize('name,layers', [('giraffedet_d7_coco.py', 13),
                                         ('giraffedet_d11_coco.py', 21)])
def test_coco_configs_build_the_official_structure(name, layers):
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    neck = MODELS.build(cfg.model.neck)
    assert neck.graph.num_layers == layers
    assert neck.inner_channels == [179] * 5  # int(256 * 0.7), official
    assert cfg.train_cfg.max_epochs == 73


@pytest.mark.slow
def test_d7_macs_match_the_official_figure():
    """Official README: 190.77 G FLOPs (multiply-adds) at 1280x768 for GiraffeDet-D7."""
    model = _build('giraffedet_d7_coco.py')
    res = model_complexity(model, (768, 1280))
    assert abs(res['macs'] / 1e9 - 190.77) / 190.77 < 0.005
