"""The sandwich loop trains several sub-nets per iteration and sums their gradients."""

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from detnas.engine.loops import SandwichTrainLoop, sandwich_archs
from detnas.engine.loops.sandwich_loop import accumulate_sandwich_gradients
from detnas.datasets import load_batches
from detnas.nas.pipeline import SearchPlan
from detnas.utils.init_weights import init_weights_quietly

CFG = 'tests/configs/retinanet_mbv2_search_tiny.py'


@pytest.fixture(scope='module')
def setup(tiny_coco):
    from mmdet.registry import LOOPS, MODELS
    init_default_scope('mmdet')
    cfg = Config.fromfile(CFG)
    cfg.train_dataloader.dataset.data_root = tiny_coco + '/'
    plan = SearchPlan.from_config(cfg, 'unused')
    torch.manual_seed(0)
    model = MODELS.build(plan.supernet_cfg.model)
    init_weights_quietly(model)
    model.train()
    batches, _ = load_batches(plan.split_dataset_cfg(
        tiny_coco + '/annotations/instances_train.json'), 2, 2)
    assert LOOPS.get('SandwichTrainLoop') is SandwichTrainLoop
    return model, batches[0]


def test_sandwich_archs_are_largest_smallest_then_seeded_random(setup):
    model, _ = setup
    space = model.backbone.space
    archs = sandwich_archs(model.backbone, seed=3, iteration=7, num_random=3)
    assert len(archs) == 5
    assert archs[0] == space.largest() and archs[1] == space.smallest()
    again = sandwich_archs(model.backbone, seed=3, iteration=7, num_random=3)
    assert archs == again  # a function of (seed, iteration): resume samples the same
    others = [sandwich_archs(model.backbone, 3, it, 3)[2:] for it in range(8, 12)]
    assert any(o != archs[2:] for o in others)


def _loss(model, batch):
    data = model.data_preprocessor(batch, True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    return loss


def test_gradients_are_the_sum_over_the_sandwich(setup):
    model, batch = setup
    backbone = model.backbone
    archs = sandwich_archs(backbone, seed=0, iteration=0, num_random=2)
    assert archs[2] != archs[3] or archs[2] != archs[0]
    params = [p for p in model.parameters() if p.requires_grad]

    # oracle: each sub-net's gradient on its own, then summed
    expected = [torch.zeros_like(p) for p in params]
    largest_only = None
    for i, arch in enumerate(archs):
        backbone.set_arch(arch)
        grads = torch.autograd.grad(_loss(model, batch), params, allow_unused=True)
        for e, g in zip(expected, grads):
            if g is not None:
                e += g
        if i == 0:
            largest_only = [g.clone() if g is not None else None for g in grads]

    seen = []
    hook = backbone.register_forward_hook(
        lambda m, inp, out: seen.append(backbone.space.fingerprint(backbone.arch)))
    wrapper = OptimWrapper(torch.optim.SGD(params, lr=0.0))
    wrapper.zero_grad()
    try:
        log_vars = accumulate_sandwich_gradients(model, batch, archs, wrapper)
    finally:
        hook.remove()
    assert seen == [backbone.space.fingerprint(a) for a in archs]  # 4 forwards, these archs
    assert set(log_vars) == {'loss', 'loss_largest', 'loss_smallest', 'loss_random0',
                             'loss_random1'}
    assert backbone.arch == backbone.space.largest()  # restored afterwards
    diff_from_largest = 0.0
    for p, e, l in zip(params, expected, largest_only):
        got = p.grad if p.grad is not None else torch.zeros_like(p)
        assert torch.allclose(got, e, rtol=1e-4, atol=1e-6)
        if l is not None:
            diff_from_largest = max(diff_from_largest, (got - l).abs().max().item())
    # the other sub-nets really contributed (not just the largest one's gradient)
    assert diff_from_largest > 1e-4
    wrapper.zero_grad()


def test_in_place_distillation_adds_the_teachers_feature_loss(setup):
    """With distill_weight w, every smaller sub-net's gradient is that of its loss plus
    w * relative MSE to the largest sub-net's (detached) neck features; the largest one
    trains on the ground truth alone."""
    model, batch = setup
    backbone = model.backbone
    archs = sandwich_archs(backbone, seed=1, iteration=0, num_random=1)
    params = [p for p in model.parameters() if p.requires_grad]
    w = 0.5

    def neck_and_loss(arch):
        backbone.set_arch(arch)
        data = model.data_preprocessor(batch, True)
        feats = model.neck(model.backbone(data['inputs']))
        return feats, _loss(model, batch)

    teacher = [f.detach() for f in neck_and_loss(archs[0])[0]]
    expected = [torch.zeros_like(p) for p in params]
    kds = []
    for i, arch in enumerate(archs):
        feats, loss = neck_and_loss(arch)
        if i:
            kd = torch.stack([((s - t) ** 2).mean() / (t ** 2).mean()
                              for s, t in zip(feats, teacher)]).mean()
            kds.append(kd.item())
            loss = loss + w * kd
        for e, g in zip(expected, torch.autograd.grad(loss, params, allow_unused=True)):
            if g is not None:
                e += g
    assert min(kds) > 0  # the smaller sub-nets do differ from the teacher

    wrapper = OptimWrapper(torch.optim.SGD(params, lr=0.0))
    wrapper.zero_grad()
    log_vars = accumulate_sandwich_gradients(model, batch, archs, wrapper, distill_weight=w)
    assert log_vars['loss_distill'].item() == pytest.approx(sum(kds) / len(kds), rel=1e-4)
    for p, e in zip(params, expected):
        got = p.grad if p.grad is not None else torch.zeros_like(p)
        # float32 summation order differs: compare on the tensor's own scale
        assert (got - e).abs().max() <= 1e-4 * e.abs().max() + 1e-6
    wrapper.zero_grad()
