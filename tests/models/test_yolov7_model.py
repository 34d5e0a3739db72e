"""YOLOv7 detectors: configs build, published sizes, deploy equivalence, training step."""
import copy
import glob
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import detnas  # noqa: F401
from detnas.utils.complexity import count_params, switch_to_deploy
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', 'yolov7')
init_default_scope('mmdet')


def load(name):
    return Config.fromfile(osp.join(CFG_DIR, name))


def randomize_bn(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(1 + 0.1 * torch.randn(c, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(c, generator=g))


def batch(num_classes, size=128, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i in range(n):
        inputs.append(torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8))
        s = DetDataSample()
        s.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size),
                            pad_shape=(size, size), scale_factor=(1.0, 1.0),
                            batch_input_shape=(size, size)))
        xy = torch.rand(3, 2, generator=g) * (size * 0.6)
        wh = torch.rand(3, 2, generator=g) * (size * 0.3) + 8
        s.gt_instances = InstanceData(
            bboxes=torch.cat([xy, (xy + wh).clamp(max=size - 1)], 1),
            labels=torch.randint(0, num_classes, (3, ), generator=g))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_all_configs_build():
    names = sorted(osp.basename(p) for p in glob.glob(osp.join(CFG_DIR, '*.py')))
    expected = {f'yolov7_{a}_coco.py' for a in ('tiny', 'l', 'x', 'w6', 'e6', 'd6', 'e6e')}
    assert expected | {'yolov7_tiny_demo.py'} <= set(names)
    for name in names:
        cfg = load(name)
        with torch.device('meta'):  # structure only: no weight initialisation cost
            model = MODELS.build(cfg.model)
        nl = len(model.bbox_head.strides)
        assert nl == (4 if any(a in name for a in ('w6', 'e6', 'd6')) else 3), name
        assert model.neck.out_channels == list(cfg.model.bbox_head.in_channels), name
        del model


@pytest.mark.parametrize('name,official', [('yolov7_tiny_coco.py', 6.2e6),
                                           ('yolov7_l_coco.py', 36.9e6)])
def test_deploy_params_match_official(name, official):
    with torch.device('meta'):
        model = MODELS.build(load(name).model)
        switch_to_deploy(model)
    assert abs(count_params(model) / official - 1) < 0.01


def test_deploy_fusion_keeps_outputs_tiny_and_l():
    torch.manual_seed(0)
    for name in ('yolov7_tiny_coco.py', 'yolov7_l_coco.py'):
        model = MODELS.build(load(name).model).eval()
        randomize_bn(model)
        for m in model.modules():  # non-trivial implicit knowledge
            if hasattr(m, 'implicit'):
                m.implicit.data.add_(0.3 * torch.randn_like(m.implicit))
        x = torch.rand(1, 3, 64, 64)
        with torch.no_grad():
            ref = model(x, mode='tensor')[0]
            n = switch_to_deploy(model)
            out = model(x, mode='tensor')[0]
        assert n > 50
        assert not any(type(m).__name__ in ('BatchNorm2d', 'ImplicitA', 'ImplicitM')
                       for m in model.modules())
        for a, b in zip(out, ref):
            assert ((a - b).abs().max() / b.abs().max()).item() <= 1e-4, name


def test_bad_depth_and_width_raise():
    from detnas.models.backbones.yolov7_backbone import YOLOv7Backbone
    with pytest.raises(ValueError, match=r'stage 1: ELANBlock: num_convs=3 is not a multiple'):
        YOLOv7Backbone('l', deepen_factor=0.75)
    with pytest.raises(ValueError, match=r'stage 2: MPDownsample: out_channels=129 must be '):
        YOLOv7Backbone('l', widen_factor=0.505)
    with pytest.raises(ValueError, match='arch must be one of'):
        YOLOv7Backbone('m')
    cfg = load('yolov7_l_coco.py').model.bbox_head
    with pytest.raises(ValueError, match='strides has 4 levels'):
        MODELS.build(dict(cfg, strides=[8, 16, 32, 64]))


def _train_step(model, data):
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    log = model.train_step(data, optim)
    changed = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    return log, changed


def test_tiny_training_step_on_cpu():
    torch.manual_seed(0)
    cfg = load('yolov7_tiny_demo.py')
    model = MODELS.build(cfg.model)
    model.init_weights()
    log, changed = _train_step(model, batch(num_classes=6))
    for key in ('loss_bbox', 'loss_obj', 'loss_cls'):
        assert math.isfinite(log[key].item()) and log[key].item() > 0, key
    assert changed > 100
    # per level 1 - CIoU (averaged over matches) lies in [0, 2]; summed over 3 levels, times
    # the box weight 0.05 and the batch size 2
    assert log['loss_bbox'].item() <= 3 * 2 * 0.05 * 2


def test_p6_aux_head_training_step_and_predict():
    torch.manual_seed(0)
    cfg = copy.deepcopy(load('yolov7_w6_coco.py').model)
    cfg.backbone.widen_factor = cfg.neck.widen_factor = 0.125
    cfg.bbox_head.num_classes = 3
    cfg.bbox_head.in_channels = [32, 64, 96, 128]
    cfg.bbox_head.aux_in_channels = [40, 80, 120, 160]
    model = MODELS.build(cfg)
    model.init_weights()
    data = batch(num_classes=3, size=128)
    model.train()
    packed = model.data_preprocessor(data, True)
    feats = model.extract_feat(packed['inputs'])
    assert len(feats) == 8  # lead + auxiliary maps in training
    log, changed = _train_step(model, data)
    assert all(math.isfinite(log[k].item()) for k in ('loss_bbox', 'loss_obj', 'loss_cls'))
    model.eval()
    with torch.no_grad():
        packed = model.data_preprocessor(data, False)
        assert len(model.extract_feat(packed['inputs'])) == 4
        results = model.predict(packed['inputs'], packed['data_samples'])
    assert len(results) == 2
    boxes = results[0].pred_instances.bboxes
    assert boxes.shape[1] == 4 and len(results[0].pred_instances.scores) <= 300
