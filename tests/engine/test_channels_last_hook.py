"""ChannelsLastHook: converts the parameters, keeps the outputs and the optimizer."""
from types import SimpleNamespace

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import detnas  # noqa: F401
from detnas.engine.hooks import ChannelsLastHook


def _tiny_detector():
    from mmdet.registry import MODELS
    cfg = Config.fromfile('tests/configs/retinanet_tiny.py')
    init_default_scope('mmdet')
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def test_hook_converts_parameters_and_keeps_outputs():
    model = _tiny_detector().eval()
    x = torch.rand(2, 3, 96, 128)
    with torch.no_grad():
        before = model(x, mode='tensor')
    params = list(model.parameters())
    optimizer = torch.optim.SGD(params, lr=0.1)
    ChannelsLastHook().before_train(SimpleNamespace(model=model))
    convs = [p for p in model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert not all(p.is_contiguous() for p in convs)  # really changed layout
    # Parameter objects survive, so an optimizer built before the hook still updates them
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert optimizer.param_groups[0]['params'][0] is params[0]
    with torch.no_grad():
        after = model(x, mode='tensor')
    for level_before, level_after in zip(before[0] + before[1], after[0] + after[1]):
        torch.testing.assert_close(level_after, level_before, rtol=1e-4, atol=1e-5)


def test_disabled_hook_leaves_the_model_alone():
    model = _tiny_detector()
    ChannelsLastHook(enabled=False).before_train(SimpleNamespace(model=model))
    assert all(p.is_contiguous() for p in model.parameters())
