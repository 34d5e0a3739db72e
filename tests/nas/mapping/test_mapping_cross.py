"""Cross-family mapping (layer alignment), key layouts and bad seeds."""
import pytest
import torch
from mmdet.models.backbones import ResNet
from mmdet.models.backbones.resnet import BasicBlock, Bottleneck

from detnas.nas.mapping import MappingConfig, MappingError, map_weights
from mapping_helpers import randomize, tiny_mbv2

X = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))


def _resnet(blocks, block=BasicBlock, base=16, seed=0):
    class TinyResNet(ResNet):
        arch_settings = {99: (block, blocks)}

    return randomize(TinyResNet(99, base_channels=base, out_indices=(0, 1, 2, 3)), seed)


def test_identical_conv_lists_align_fully_and_exactly():
    seed, target = tiny_mbv2(), tiny_mbv2(seed=5)
    result = map_weights(seed.state_dict(), target, MappingConfig(mode='cross_family'))
    assert result.match.similarity == pytest.approx(1.0)
    assert len(result.match.pairs) == len(result.match.target)
    target.load_state_dict(result.state_dict)
    for a, b in zip(target.eval()(X), seed(X)):
        assert torch.equal(a, b)


def test_resnet_basic_to_bottleneck_and_mbv2_to_resnet():
    seed = _resnet((2, 2, 2, 2))
    target = _resnet((1, 2, 3, 1), Bottleneck, base=8, seed=5)
    init = {k: v.clone() for k, v in target.state_dict().items()}
    result = map_weights(seed.state_dict(), target, target_state=init)
    assert result.report.meta['mode'] == 'cross_family'
    sim = result.match.similarity
    assert 0.2 < sim < 1.0
    # matched pairs are monotone and each matched tensor holds seed entries
    pairs = result.match.pairs
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(pairs, pairs[1:]))
    recs = {r.key: r for r in result.report.records}
    for i, j, _ in pairs:
        key = result.match.target[j].key + '.weight'
        assert recs[key].copied > 0 and recs[key].source == result.match.seed[i].key + '.weight'
    # unmatched tensors keep their init
    matched = {result.match.target[j].key for _, j, _ in pairs}
    for layer in result.match.target:
        if layer.key not in matched:
            assert torch.equal(result.state_dict[layer.key + '.weight'],
                               init[layer.key + '.weight'])
    totals = result.report.totals()
    assert totals['copied'] + totals['synthesized'] + totals['init'] == totals['numel']
    # the stem 7x7 -> 3x3 is a centre crop, channels by magnitude
    mb = map_weights(seed.state_dict(), tiny_mbv2(), MappingConfig(mode='cross_family'))
    assert 0 < mb.match.similarity < sim
    s_stem = seed.state_dict()['conv1.weight']
    norms = s_stem.abs().sum((1, 2, 3))
    keep = torch.topk(norms, 16).indices.sort().values
    assert torch.equal(mb.state_dict['conv1.conv.weight'], s_stem[keep][:, :, 2:5, 2:5])


def test_no_usable_match_names_the_layer():
    seed = {'blocks.0.attn.qkv.weight': torch.randn(48, 16),
            'blocks.0.norm.weight': torch.ones(16)}
    with pytest.raises(MappingError, match="no usable match.*'conv1.conv'"):
        map_weights(seed, tiny_mbv2())
    with pytest.raises(MappingError, match='min_similarity'):
        map_weights(_resnet((1, 1, 1, 1)).state_dict(), tiny_mbv2(),
                    MappingConfig(mode='cross_family', min_similarity=0.99))


def test_torchvision_and_mmpretrain_layouts_give_the_same_mapping():
    from detnas.checkpoints.sources import resolve_seed
    raw = torch.load(resolve_seed('detnas://mobilenet_v2_imagenet'), weights_only=True)
    target = dict(type='AdaptedMobileNetV2', arch_setting=[
        [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 48, 3, 2], [6, 96, 2, 1],
        [6, 160, 2, 2], [6, 320, 1, 1]])
    a = map_weights(raw, target)  # torchvision keys
    mmdet = a.report.meta['seed']
    from detnas.checkpoints.sources import load_seed
    conv = load_seed('detnas://mobilenet_v2_imagenet')
    # mmpretrain layout: backbone.layerS.J.conv.K.{conv,bn}.*, head.fc.*
    mmpre = {}
    for k, v in conv.backbone.items():
        m = k.split('.')
        if m[0].startswith('layer'):
            names = ['expand_conv', 'depthwise_conv', 'linear_conv']
            if m[0] == 'layer1':
                names = names[1:]
            k = '.'.join([m[0], m[1], 'conv', str(names.index(m[2]))] + m[3:])
        mmpre['backbone.' + k] = v
    mmpre.update({'head.' + k: v for k, v in conv.classifier.items()})
    b = map_weights(mmpre, target)
    assert a.report.meta['seed'] != b.report.meta['seed'] and 'torchvision' in mmdet
    assert a.state_dict.keys() == b.state_dict.keys()
    for k in a.state_dict:
        assert torch.equal(a.state_dict[k], b.state_dict[k]), k
    assert torch.equal(a.classifier['fc.weight'], b.classifier['fc.weight'])
