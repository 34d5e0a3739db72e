"""Within-family mapping: exact oracles (identity, Net2Net, identity deepening, kernel
padding, identity expansion), consistent importance selection, report bookkeeping."""
import pytest
import torch
from mmdet.models.backbones import ResNet
from mmdet.models.backbones.resnet import BasicBlock, Bottleneck

from detnas.nas.mapping import MappingConfig, MappingError, infer_spec, map_weights
from detnas.nas.mapping.selection import space_importance
from mapping_helpers import TINY_ARCH, randomize, rel_err, tiny_mbv2

X = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))


def _mapped(seed, target, **cfg):
    result = map_weights(seed.state_dict(), target, MappingConfig(**cfg))
    target.load_state_dict(result.state_dict)
    return target.eval(), result


def _check_counts(result, target):
    float_sd = {k: v for k, v in target.state_dict().items() if v.is_floating_point()}
    totals = result.report.totals()
    assert totals['tensors'] == len(float_sd)
    assert totals['numel'] == sum(v.numel() for v in float_sd.values())
    assert totals['copied'] + totals['synthesized'] + totals['init'] == totals['numel']
    for r in result.report.records:
        assert r.copied + r.synthesized + r.init == r.numel == float_sd[r.key].numel()


def test_identical_architecture_is_exact():
    seed = tiny_mbv2()
    target, result = _mapped(seed, tiny_mbv2(seed=5))
    for a, b in zip(target(X), seed(X)):
        assert torch.equal(a, b)
    totals = result.report.totals()
    assert totals['copied_fraction'] == 1.0 and totals['seed_used_fraction'] == 1.0
    assert set(totals['rules']) == {'copy'}
    _check_counts(result, target)


@pytest.mark.parametrize('widen', ['net2net', 'zero'])
def test_widening_is_function_preserving(widen):
    seed = tiny_mbv2()
    wide = [[1, 12, 1, 1], [8, 24, 2, 2], [6, 40, 3, 2]]  # wider stages and mid channels
    target, result = _mapped(seed, tiny_mbv2(wide, stem=24, last=48, seed=5), widen=widen)
    for t_out, s_out in zip(target(X), seed(X)):
        n = s_out.shape[1]
        # seed channels come first; the rest are replicas (net2net) or zeros
        assert rel_err(t_out[:, :n], s_out) <= 1e-5
        if widen == 'zero':
            assert t_out[:, n:].abs().max() == 0
    assert result.report.totals()['rules'][f'widen_{widen}'] > 0
    _check_counts(result, target)


def test_net2net_replicas_are_divided():
    seed = tiny_mbv2()
    target, _ = _mapped(seed, tiny_mbv2(TINY_ARCH, stem=32, seed=5), narrow='first_k')
    # stem doubled: every seed stem channel appears twice -> next conv's weights halved
    s_w = seed.state_dict()['layer1.0.linear_conv.conv.weight']
    t_w = target.state_dict()['layer1.0.linear_conv.conv.weight']
    assert t_w.shape[1] == 32 and s_w.shape[1] == 16
    assert torch.allclose(t_w[:, :16] + t_w[:, 16:], s_w)


def test_identity_deepening_is_function_preserving():
    seed = tiny_mbv2()
    deep = [[1, 8, 3, 1], [6, 16, 4, 2], [6, 24, 5, 2]]
    target, result = _mapped(seed, tiny_mbv2(deep, seed=5), deepen='identity')
    for a, b in zip(target(X), seed(X)):
        assert rel_err(a, b) <= 1e-6
    assert result.report.totals()['rules']['identity_block'] == 2 * 6  # gamma+beta, 6 blocks
    _check_counts(result, target)


def test_fna_deepening_copies_the_last_block_and_shallower_keeps_the_first():
    seed = tiny_mbv2()
    arch = [[1, 8, 1, 1], [6, 16, 3, 2], [6, 24, 1, 2]]
    target, _ = _mapped(seed, tiny_mbv2(arch, seed=5), deepen='fna_copy')
    s, t = seed.state_dict(), target.state_dict()
    for key in [k for k in s if k.startswith('layer2.1.')]:
        assert torch.equal(t[key.replace('layer2.1.', 'layer2.2.')], s[key])
    for key in [k for k in s if k.startswith('layer3.0.')]:
        assert torch.equal(t[key], s[key])
    assert not any(k.startswith('layer3.1.') for k in t)


def test_kernel_growth_is_function_preserving_and_shrink_crops():
    seed = tiny_mbv2()
    arch = [[1, 8, 1, 1, 5], [6, 16, 2, 2, 7], [6, 24, 3, 2, 5]]
    target, result = _mapped(seed, tiny_mbv2(arch, seed=5))
    for a, b in zip(target(X), seed(X)):
        assert rel_err(a, b) <= 1e-5
    assert result.report.totals()['rules']['kernel_pad'] == 6
    big = target.state_dict()['layer2.0.depthwise_conv.conv.weight']
    back, result = _mapped(target, tiny_mbv2(seed=7))  # 7x7 -> 3x3: the centre crop
    assert torch.equal(back.state_dict()['layer2.0.depthwise_conv.conv.weight'],
                       big[:, :, 2:5, 2:5])
    assert result.report.totals()['rules']['kernel_crop'] == 6


def test_added_expansion_starts_as_identity():
    seed = tiny_mbv2()  # stage 1 has expand ratio 1 (no expand conv)
    arch = [[3, 8, 1, 1], [6, 16, 2, 2], [6, 24, 3, 2]]
    target, result = _mapped(seed, tiny_mbv2(arch, seed=5))
    assert 'layer1.0.expand_conv.conv.weight' in target.state_dict()
    for a, b in zip(target(X), seed(X)):  # ReLU6 input is already in [0, 6]: exact
        assert rel_err(a, b) <= 1e-5
    assert result.report.totals()['rules']['identity_conv'] == 5
    _check_counts(result, target)


def test_l1_selection_keeps_top_channels_consistently():
    seed = tiny_mbv2()
    # stage 2: 16 -> 8 channels, ratio 4; stage 3 ratio 12 keeps layer3.0's 96 mid channels
    arch = [[1, 8, 1, 1], [4, 8, 2, 2], [12, 24, 3, 2]]
    target, result = _mapped(seed, tiny_mbv2(arch, seed=5), narrow='l1')
    s_sd, t_sd = seed.state_dict(), target.state_dict()
    spec = infer_spec(s_sd)
    imp = space_importance(s_sd, spec, 'layer2', 'l1')
    keep = torch.topk(imp, 8).indices.sort().values  # independent recomputation
    assert torch.equal(imp[keep].sort().values, imp.sort(descending=True).values[:8].sort().values)
    # both residual partners of stage 2 write the kept channels; stage 3 reads them
    for b in ('layer2.0', 'layer2.1'):
        assert torch.equal(t_sd[f'{b}.linear_conv.bn.weight'],
                           s_sd[f'{b}.linear_conv.bn.weight'][keep])
    assert torch.equal(t_sd['layer3.0.expand_conv.conv.weight'],
                       s_sd['layer3.0.expand_conv.conv.weight'][:, keep])
    # layer2.1 mid space 96 -> 32: expand rows, depthwise filters and linear columns agree
    mid_imp = space_importance(s_sd, spec, 'layer2.1.mid', 'l1')
    mid = torch.topk(mid_imp, 32).indices.sort().values
    assert torch.equal(t_sd['layer2.1.expand_conv.conv.weight'],
                       s_sd['layer2.1.expand_conv.conv.weight'][mid][:, keep])
    assert torch.equal(t_sd['layer2.1.depthwise_conv.conv.weight'],
                       s_sd['layer2.1.depthwise_conv.conv.weight'][mid])
    assert torch.equal(t_sd['layer2.1.linear_conv.conv.weight'],
                       s_sd['layer2.1.linear_conv.conv.weight'][keep][:, mid])
    _check_counts(result, target)


def test_bn_gamma_selection_follows_gamma():
    seed = tiny_mbv2()
    sd = seed.state_dict()
    shuffle = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    gamma = torch.linspace(0.1, 1.6, 16)[shuffle]
    for key in ('layer2.0.linear_conv.bn.weight', 'layer2.1.linear_conv.bn.weight'):
        sd[key].copy_(gamma)
    seed.load_state_dict(sd)
    arch = [[1, 8, 1, 1], [6, 8, 2, 2], [6, 24, 3, 2]]
    target, _ = _mapped(seed, tiny_mbv2(arch, seed=5), narrow='bn_gamma')
    kept = target.state_dict()['layer2.0.linear_conv.bn.weight']
    assert torch.equal(kept.sort().values, gamma.sort().values[-8:])


def _resnet(depth_blocks, block=BasicBlock, base=16, seed=0):
    class TinyResNet(ResNet):
        arch_settings = {99: (block, depth_blocks)}

    return randomize(TinyResNet(99, base_channels=base, out_indices=(0, 1, 2, 3)), seed)


@pytest.mark.parametrize('block', [BasicBlock, Bottleneck])
def test_resnet_widen_and_deepen_are_function_preserving(block):
    seed = _resnet((1, 2, 1, 1), block)
    target = _resnet((2, 3, 1, 2), block, base=24, seed=5)
    result = map_weights(seed.state_dict(), target, MappingConfig(widen='net2net'))
    target.load_state_dict(result.state_dict)
    target.eval()
    for a, b in zip(target(X), seed(X)):
        assert rel_err(a[:, :b.shape[1]], b) <= 1e-5
    assert result.report.meta['mode'] == 'within_family'
    _check_counts(result, target)


def test_plain_to_grouped_keeps_the_diagonal_blocks():
    from mmdet.models.backbones import ResNeXt
    from mmdet.models.backbones.resnext import Bottleneck as XBottleneck

    class TinyResNeXt(ResNeXt):
        arch_settings = {99: (XBottleneck, (1, 1, 1, 1))}

    seed = _resnet((1, 1, 1, 1), Bottleneck)
    target = randomize(TinyResNeXt(depth=99, groups=4, base_width=4, base_channels=16,
                                   out_indices=(3, )), 5)
    result = map_weights(seed.state_dict(), target)
    s = seed.state_dict()['layer1.0.conv2.weight']  # (16, 16, 3, 3), groups 1
    t = result.state_dict['layer1.0.conv2.weight']  # (16, 4, 3, 3), groups 4
    assert t.shape == (16, 4, 3, 3)
    for g in range(4):
        assert torch.equal(t[4 * g:4 * g + 4], s[4 * g:4 * g + 4, 4 * g:4 * g + 4])
    rec = next(r for r in result.report.records if r.key == 'layer1.0.conv2.weight')
    assert 'regroup' in rec.rule and rec.copied == t.numel()


def test_wrong_family_seed_names_the_problem():
    with pytest.raises(MappingError, match='mobilenet_v2.*resnet|resnet.*mobilenet_v2'):
        map_weights(_resnet((1, 1, 1, 1)).state_dict(), tiny_mbv2(),
                    MappingConfig(mode='within_family'))


def test_bad_groups_and_zero_channels_name_the_layer():
    from detnas.nas.mapping.spec import ArchSpec, ConvNode
    with pytest.raises(MappingError, match="layer 'b.conv'.*groups=3"):
        ArchSpec('x', [ConvNode('b.conv', None, 'input', 'a', 3, 16, (3, 3), groups=3)],
                 [], {'input': 3, 'a': 16})
    with pytest.raises(MappingError, match="layer 'c'.*0 output channels"):
        ArchSpec('x', [ConvNode('c', None, 'input', 'a', 3, 0, (3, 3))], [],
                 {'input': 3, 'a': 0})
    with pytest.raises(MappingError, match='narrow'):
        MappingConfig(narrow='largest')


def test_saved_result_loads_back_unchanged(tmp_path):
    seed = tiny_mbv2()
    arch = [[e, c * 2, n + 1, s, 5] for e, c, n, s in TINY_ARCH]
    target, result = _mapped(seed, tiny_mbv2(arch, stem=24, last=48, seed=5))
    ckpt, report = str(tmp_path / 'mapped.pth'), str(tmp_path / 'mapped.json')
    result.save(ckpt, report, prefix='backbone.')
    back = type(result).load(ckpt, report, prefix='backbone.')
    assert back.state_dict.keys() == result.state_dict.keys()
    assert all(torch.equal(back.state_dict[k], v) for k, v in result.state_dict.items())
    assert back.report.records == result.report.records
    assert back.report.totals() == result.report.totals()
    assert back.report.channel_maps == result.report.channel_maps
    assert back.report.meta == result.report.meta
    assert back.report.table() == result.report.table()
