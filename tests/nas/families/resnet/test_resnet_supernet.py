"""ResNet family of the search: the ElasticResNet supernet (seed reproduction, sub-net ==
exported model), the ResNet space and its signatures."""
import random

import pytest
import torch
from helpers import close, random_input, randomise_bn, seed_resnet

from detnas.models.backbones import AdaptedResNet
from detnas.models.backbones.adapted_resnet import res_layer
from detnas.nas.families import bind_family
from detnas.nas.families.resnet import ElasticResNet, ResNetSearchSpace, resnet_search_space
from detnas.utils.errors import DetnasInputError
from detnas.utils.init_weights import init_weights_quietly

OPS = [res_layer(), res_layer(dilation=2), res_layer(groups=4), res_layer(kernel=5)]
# a ResNet-18 space: widths around the seed's, depth -1/+1, four block ops
SPACE18 = dict(stages=[
    dict(widths=[48, 64, 80], depth=(1, 3), ops=OPS),
    dict(widths=[96, 128], depth=(1, 3), ops=OPS),
    dict(widths=[128, 256], depth=(2, 3), ops=OPS),
    dict(widths=[512], depth=(2, 2), ops=[res_layer(), res_layer(dilation=2)]),
])


@pytest.fixture(scope='module')
def seed18():
    return seed_resnet(18)


@pytest.fixture(scope='module')
def supernet18(seed18):
    torch.manual_seed(1)
    net = ElasticResNet(search_space=SPACE18, seed=seed18.state_dict(), seed_depth=18)
    return init_weights_quietly(net).eval()


def test_seed_arch_reproduces_the_seed(supernet18, seed18):
    x = random_input()
    with torch.no_grad():
        ref = seed18(x)
        with supernet18.arch_context(supernet18.space.seed_arch()):
            outs = supernet18(x)
            orders = supernet18.seed_channel_order()
            assert supernet18.out_channels() == (64, 128, 256, 512)
    for o, r, order in zip(outs, ref, orders):
        assert sorted(order.tolist()) == list(range(r.shape[1]))  # a permutation
        assert close(o, r[:, order])


def test_largest_subnet_keeps_the_seed_function(supernet18, seed18):
    """Kernel 5 (zero-padded 3x3), an added block per stage (identity) and added channels
    (zero outgoing weights) leave the seed channels' outputs unchanged."""
    x = random_input()
    with torch.no_grad():
        ref = seed18(x)
        with supernet18.arch_context(supernet18.space.largest()):
            outs = supernet18(x)
            orders = supernet18.seed_channel_order()
            assert supernet18.out_channels() == (80, 128, 256, 512)
            assert supernet18.arch['stages'][0]['layers'][0] == res_layer(kernel=5)
    for o, r, order in zip(outs, ref, orders):
        seed_ch = order >= 0
        assert int(seed_ch.sum()) == r.shape[1]
        assert close(o[:, seed_ch], r[:, order[seed_ch]])


def _exported(supernet, arch, space=SPACE18):
    """The standalone AdaptedResNet of ``arch`` with the weights the supernet exports."""
    family = bind_family(dict(type='ElasticResNet', search_space=space, seed_depth=18))
    fixed = family.fixed_backbone_config(arch)
    assert fixed['type'] == 'AdaptedResNet'
    fixed.pop('type')
    model = AdaptedResNet(**fixed).eval()
    with supernet.arch_context(arch):
        model.load_state_dict(supernet.static_state())  # strict: every key exported
    return model, family


def test_exported_subnet_equals_the_supernet_subnet(supernet18):
    """Random archs with every op (grouped, dilated, 5x5), widths and depths: the exported
    AdaptedResNet with the sliced weights computes what the supernet computes."""
    randomise_bn(supernet18, seed=5)
    rng = random.Random(0)
    archs = [supernet18.space.smallest(), supernet18.space.largest()] + [
        supernet18.space.sample(rng) for _ in range(6)]
    seen_ops = set()
    x = random_input(seed=7)
    for arch in archs:
        model, family = _exported(supernet18, arch)
        with torch.no_grad(), supernet18.arch_context(arch):
            want = supernet18(x)
        got = model(x)
        assert [o.shape[1] for o in got] == family.output_widths(arch)
        for a, b in zip(got, want):
            assert a.shape == b.shape and close(a, b)
        seen_ops |= {(l['kernel'], l['dilation'], l['groups'])
                     for s in arch['stages'] for l in s['layers']}
    assert {(3, 2, 1), (3, 1, 4), (5, 1, 1)} <= seen_ops


def test_registered_op_layer_exports_its_own_module():
    """A layer may be any registered search op (here YOLOv7's ELAN): the supernet holds one
    module per (input, output) width and the export carries the chosen one."""
    space = dict(stages=[dict(widths=[64], depth=(2, 2), ops=[res_layer()]),
                         dict(widths=[96, 128], depth=(2, 2),
                              ops=[res_layer(), dict(op='yolov7_elan', num_convs=2)]),
                         dict(widths=[256], depth=(2, 2)), dict(widths=[512], depth=(2, 2))])
    torch.manual_seed(0)
    net = init_weights_quietly(ElasticResNet(search_space=space, seed_depth=18)).eval()
    randomise_bn(net, seed=2)
    assert 'layer2.0.choices.op1_64x96' in dict(net.named_modules())
    elan = dict(op='yolov7_elan', num_convs=2)
    arch = net.space.seed_arch()
    arch['stages'][1] = dict(width=96, depth=2, layers=[elan, res_layer()])
    model, _ = _exported(net, arch, space)
    x = random_input(seed=4)
    with torch.no_grad(), net.arch_context(arch):
        want = net(x)
    for a, b in zip(model(x), want):
        assert close(a, b)
    assert type(model.layer2[0]).__name__ != 'AdaptedResBlock'


REST18 = [dict(widths=[128], depth=(2, 2)), dict(widths=[256], depth=(2, 2)),
          dict(widths=[512], depth=(2, 2))]


def test_space_rejects_bad_choices():
    def space(**stage1):
        return ResNetSearchSpace([dict(widths=[64], depth=(2, 2), **stage1)] + REST18,
                                 seed_depth=18)

    with pytest.raises(DetnasInputError, match=r'stages\[0\].ops.*groups=3'):
        space(ops=[res_layer(), res_layer(groups=3)])
    with pytest.raises(DetnasInputError, match=r"unknown op 'no_such_op'"):
        space(ops=[res_layer(), dict(op='no_such_op')])
    with pytest.raises(DetnasInputError, match='belongs to the MobileNetV2 space'):
        space(ops=[res_layer(), dict(op='mbconv')])
    with pytest.raises(DetnasInputError, match="at least one 'res_block'"):
        space(ops=[dict(op='yolov7_elan')])
    with pytest.raises(DetnasInputError, match=r'kernel must be odd'):
        space(ops=[res_layer(kernel=4)])
    with pytest.raises(DetnasInputError, match=r"unknown key\(s\) \['kernels'\]"):
        space(kernels=[3])
    with pytest.raises(DetnasInputError, match='seed architecture does not fit'):
        ResNetSearchSpace([dict(widths=[48, 80], depth=(2, 2))] + REST18, seed_depth=18)
    with pytest.raises(DetnasInputError, match='multiples of its expansion 4'):
        ResNetSearchSpace([dict(widths=[250], depth=(3, 3))] + [
            dict(widths=[w], depth=(n, n)) for w, n in ((512, 4), (1024, 6), (2048, 3))],
            seed_depth=50)


def test_default_space_holds_the_seed_and_the_published_widths():
    space = ResNetSearchSpace.from_config(resnet_search_space(50), seed_depth=50)
    assert [st.widths for st in space.stages] == [(192, 256, 320), (384, 512, 640),
                                                  (768, 1024, 1280), (1536, 2048, 2560)]
    assert [st.depths for st in space.stages] == [(2, 3, 4), (3, 4, 5), (5, 6, 7), (2, 3, 4)]
    assert space.seed_arch()['stages'][2]['depth'] == 6


def test_seed_of_another_depth_is_refused(supernet18):
    with pytest.raises(DetnasInputError, match='bottleneck ResNet.*seed_depth'):
        supernet18.load_seed(seed_resnet(50).state_dict())
    shallow = {k: v for k, v in seed_resnet(18).state_dict().items()
               if not k.startswith('layer3.1.')}
    with pytest.raises(DetnasInputError, match='layer3 has 1 blocks'):
        supernet18.load_seed(shallow)


def test_latency_signatures_cover_every_arch_and_build():
    family = bind_family(dict(type='ElasticResNet', search_space=SPACE18, seed_depth=18))
    space = family.space
    all_sigs = set(family.space_signatures((64, 64)))
    rng = random.Random(1)
    for arch in [space.largest(), space.smallest()] + [space.sample(rng) for _ in range(10)]:
        sigs = family.layer_signatures(arch, (64, 64))
        assert set(sigs) <= all_sigs
        assert len(sigs) == 1 + sum(s['depth'] for s in arch['stages'])
    for sig in [s for s in all_sigs if s[0] == 'res_block'][:3] + [
            ('resnet_stem', 3, 64, 64, 64)]:
        module, x = family.latency_layer(sig)
        out = module(x)
        assert out.shape[1] == sig[3 if sig[0] == 'res_block' else 2]


def test_supernet_config_from_an_mmdet_resnet_seed():
    from mmengine.config import Config
    from detnas.nas.pipeline import build_supernet_config
    cfg = Config(dict(model=dict(
        type='RetinaNet',
        backbone=dict(type='ResNet', depth=18, out_indices=(1, 2, 3), frozen_stages=1,
                      norm_eval=True, style='pytorch',
                      init_cfg=dict(type='Pretrained', checkpoint='detnas:///r18.pth')),
        neck=dict(type='FPN', in_channels=[128, 256, 512], out_channels=64, num_outs=5))))
    out = build_supernet_config(cfg, SPACE18)
    assert out.model.backbone.type == 'ElasticResNet'
    assert out.model.backbone.seed_depth == 18 and out.model.backbone.frozen_stages == 1
    assert out.model.neck.type == 'ElasticFPN'
    assert out.model.neck.in_channels == [128, 256, 512]  # the largest widths of stages 1-3
    cfg.model.backbone.style = 'caffe'
    with pytest.raises(DetnasInputError, match=r"model.backbone.style is 'caffe'"):
        build_supernet_config(cfg, SPACE18)
    cfg.model.backbone.style = 'pytorch'
    cfg.model.backbone.norm_cfg = dict(type='GN', num_groups=32)
    with pytest.raises(DetnasInputError, match=r"norm_cfg.type is 'GN'.*BatchNorm only"):
        build_supernet_config(cfg, SPACE18)
