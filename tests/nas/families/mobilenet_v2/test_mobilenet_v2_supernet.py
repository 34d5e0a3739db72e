"""ElasticMobileNetV2 supernet: seed reproduction, importance order, slicing, BN handling."""
import random

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.backbones import MobileNetV2

from detnas.checkpoints.sources import load_seed
from detnas.nas.families.mobilenet_v2 import ElasticMobileNetV2
from detnas.nas.supernet.layers import ElasticBatchNorm2d
from detnas.nas.supernet.bn_calibration import recalibrate_bn
from detnas.nas.families.mobilenet_v2 import mobilenet_v2_search_space
from detnas.utils.errors import DetnasInputError
from detnas.utils.init_weights import init_weights_quietly

SEED = 'detnas://mobilenet_v2_imagenet'


def make_supernet(out_indices=(2, 4, 6, 7), seed=SEED, **kwargs):
    torch.manual_seed(0)
    net = ElasticMobileNetV2(seed=seed, out_indices=out_indices, **kwargs)
    return init_weights_quietly(net)


@pytest.fixture(scope='module')
def supernet():
    return make_supernet()


@pytest.fixture(scope='module')
def seed_model():
    ref = MobileNetV2(out_indices=(2, 4, 6, 7))
    ref.load_state_dict(load_seed(SEED).backbone)
    ref.eval()  # mmdet's MobileNetV2.train() returns None
    return ref


def _close(a, b, rel=1e-5):
    return (a - b).abs().max().item() <= rel * b.abs().max().item()


def test_seed_arch_reproduces_the_seed(supernet, seed_model):
    supernet.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), supernet.arch_context(supernet.space.seed_arch()):
        outs = supernet(x)
        orders = supernet.seed_channel_order()
        assert supernet.out_channels() == (32, 96, 320, 1280)
    ref = seed_model(x)
    for o, r, order in zip(outs, ref, orders):
        assert o.shape == r.shape
        assert sorted(order.tolist()) == list(range(r.shape[1]))  # a permutation
        assert _close(o, r[:, order])
    # the largest sub-net (kernel 7, extra blocks and channels) keeps the seed channels'
    # function: padded kernels, identity blocks, added channels with zero outgoing weights
    with torch.no_grad():
        big = supernet(x)
        orders = supernet.seed_channel_order()
    assert supernet.out_channels() == (40, 112, 320, 1280)
    for o, r, order in zip(big, ref, orders):
        seed_ch = order >= 0
        assert int(seed_ch.sum()) == r.shape[1]
        assert _close(o[:, seed_ch], r[:, order[seed_ch]])


def test_channels_are_sorted_by_seed_importance(supernet):
    """Stage 3 output (32 seed channels): written by layer3.{0,1,2}.linear_conv; the supernet's
    first channels must be the seed's by decreasing summed, mean-normalised filter L1."""
    sd = load_seed(SEED).backbone
    score = torch.zeros(32)
    for j in range(3):
        l1 = sd[f'layer3.{j}.linear_conv.conv.weight'].abs().flatten(1).sum(1)
        score += l1 / l1.mean()
    with supernet.arch_context(supernet.space.seed_arch()):
        order = supernet.seed_channel_order()[0]
    assert torch.equal(order, torch.argsort(score, descending=True))
    # the BN of the first block's output follows the same permutation
    bn = supernet.state_dict()['layer3.0.linear_conv.bn.weight'][:32]
    assert torch.equal(bn, sd['layer3.0.linear_conv.bn.weight'][order])


def test_added_channels_are_silent_but_trainable(supernet):
    # stage 3 grows 32 -> 40 channels: consumers' weights on channels 32.. are zero ...
    w = supernet.layer4[0].expand_conv.conv.weight
    assert torch.count_nonzero(w[:, 32:]) == 0 and torch.count_nonzero(w[:, :32]) > 0
    net = make_supernet(out_indices=(6, ))
    net.train()
    net(torch.randn(2, 3, 64, 64)).__getitem__(0).square().mean().backward()
    # ... yet they get gradients (their own filters are random, not zero)
    assert net.layer4[0].expand_conv.conv.weight.grad[:, 32:].abs().sum() > 0


def test_subnet_shapes_arch_context_and_sandwich(supernet):
    rng = random.Random(0)
    arch = supernet.space.sample(rng)
    before = supernet.arch
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad(), supernet.arch_context(arch):
        outs = supernet.eval()(x)
        assert tuple(o.shape[1] for o in outs) == supernet.out_channels()
        assert supernet.out_channels()[:3] == tuple(arch['stages'][i]['width']
                                                    for i in (2, 4, 6))
    assert supernet.arch == before
    sandwich = supernet.sample_sandwich(random.Random(5), n_random=3)
    assert sandwich[0] == supernet.space.largest() and sandwich[1] == supernet.space.smallest()
    assert len(sandwich) == 5 and sandwich[2:] == supernet.sample_sandwich(
        random.Random(5), n_random=3)[2:]
    bad = supernet.space.seed_arch()
    bad['stages'][3]['width'] = 72
    with pytest.raises(DetnasInputError, match=r'arch.stages\[3\]\.width = 72'):
        supernet.set_arch(bad)


def test_elastic_bn_uses_batch_stats_of_the_active_channels():
    torch.manual_seed(0)
    bn = ElasticBatchNorm2d(8)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.normal_()
    x = torch.randn(4, 5, 3, 3)
    out = bn.train()(x)
    ref = F.batch_norm(x, None, None, bn.weight[:5], bn.bias[:5], True, 0.1, bn.eps)
    assert torch.allclose(out, ref, atol=1e-6)
    # running stats: the first 5 moved towards the batch statistics, the others untouched
    assert torch.allclose(bn.running_mean[:5], 0.1 * x.mean((0, 2, 3)), atol=1e-6)
    assert torch.equal(bn.running_mean[5:], torch.zeros(3))
    assert torch.equal(bn.running_var[5:], torch.ones(3))


def test_bn_recalibration_gives_the_cumulative_batch_average():
    net = make_supernet(out_indices=(1, ))
    net.set_arch(net.space.smallest())
    gen = torch.Generator().manual_seed(2)
    batches = [torch.randn(2, 3, 64, 64, generator=gen) * (i + 1) for i in range(3)]
    net.eval()
    assert recalibrate_bn(net, batches) == 3
    assert not net.conv1.bn.training and net.conv1.bn.momentum == 0.1  # restored
    # the stem BN's running mean is the mean of the three batch means of its input
    with torch.no_grad():
        means = [net.conv1.conv(b).mean((0, 2, 3)) for b in batches]
    assert torch.allclose(net.conv1.bn.running_mean, torch.stack(means).mean(0), atol=1e-5)
    with pytest.raises(DetnasInputError, match='no batches'):
        recalibrate_bn(net, [])


def test_seed_that_is_not_the_declared_seed_arch_fails():
    with pytest.raises(DetnasInputError, match="seed_arch_setting"):
        # the checkpoint is the 1.0x MobileNetV2, the supernet is told it is 0.5x
        cfg = mobilenet_v2_search_space()
        for st, w in zip(cfg['stages'], [8, 16, 16, 32, 48, 80, 160]):
            st['widths'] = sorted(set(st['widths']) | {w})
        make_supernet(search_space=cfg, seed_widen_factor=0.5)


def test_supernet_detector_trains_with_the_sandwich_rule():
    """RetinaNet + ElasticFPN on the supernet: one sandwich step (largest, smallest, random)
    gives finite losses that differ per sub-net and gradients on the shared weights."""
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from detnas.nas.pipeline import build_supernet_config
    init_default_scope('mmdet')
    cfg = build_supernet_config(Config.fromfile('tests/configs/retinanet_tiny.py'),
                                mobilenet_v2_search_space())
    cfg.model.backbone.seed = None  # random init: this test is about the mechanics
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    packed = demo_mm_inputs(2, (3, 64, 64), num_classes=6)
    data = model.data_preprocessor(packed, True)
    losses = []
    for arch in model.backbone.sample_sandwich(random.Random(0), n_random=1):
        model.backbone.set_arch(arch)
        parts = model.loss(data['inputs'], data['data_samples'])
        loss = sum(v if torch.is_tensor(v) else sum(v) for v in parts.values())
        loss.backward()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert len(set(round(v, 6) for v in losses)) == 3
    grad = model.backbone.layer3[0].expand_conv.conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    lateral = model.neck.lateral_convs[0].conv.weight.grad  # 40 max input channels
    assert lateral.shape[1] == 40 and lateral[:, :24].abs().sum() > 0
    # recalibration straight from mmdet data batches
    from detnas.nas.supernet.bn_calibration import detector_forward
    model.eval()
    assert recalibrate_bn(model, [packed], forward=detector_forward(model)) == 1
    assert model.backbone.conv1.bn.num_batches_tracked.item() == 1
