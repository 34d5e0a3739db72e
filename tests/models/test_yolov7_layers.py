"""YOLOv7 / gradient-path blocks: fusion identities, E-ELAN shapes, search ops, bad input."""
import pytest
import torch
from torch import nn

import detnas  # noqa: F401
from detnas.models.layers.e_elan import EELANBlock, EELANSumBlock, shuffle_cardinality
from detnas.models.layers.elan import ELANBlock
from detnas.models.layers.implicit import ImplicitConv2d
from detnas.models.layers.mp import DownC, MPDownsample
from detnas.models.layers.prn import PRNBlock
from detnas.models.layers.csp import CSPStage
from detnas.models.layers.rep_conv import RepConv
from detnas.models.layers.sppcspc import SPPCSPC
from detnas.models.layers.yolo_conv import conv_bn_act
from detnas.registry import SEARCH_OPS
from detnas.utils.complexity import count_params, switch_to_deploy


def randomize_bn(module: nn.Module, seed: int = 0) -> None:
    """Gives every BN non-trivial statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(c, generator=g))
            m.bias.data.copy_(torch.randn(c, generator=g))


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-12)).item()


@pytest.mark.parametrize('cin,cout,stride,groups', [(8, 8, 1, 1), (8, 16, 1, 1), (8, 8, 2, 1),
                                                    (8, 8, 1, 2)])
def test_repconv_fusion_matches_branches(cin, cout, stride, groups):
    torch.manual_seed(0)
    m = RepConv(cin, cout, stride=stride, groups=groups).eval()
    randomize_bn(m)
    x = torch.randn(2, cin, 10, 10)
    ref = m(x)
    # independent oracle: the three branches written out with functional ops
    def bn(y, b):
        return (y - b.running_mean[None, :, None, None]) / torch.sqrt(
            b.running_var[None, :, None, None] + b.eps) * b.weight[None, :, None, None] + \
            b.bias[None, :, None, None]
    manual = bn(nn.functional.conv2d(x, m.dense.conv.weight, None, stride, 1, 1, groups),
                m.dense.bn) + bn(nn.functional.conv2d(x, m.branch_1x1.conv.weight, None,
                                                      stride, 0, 1, groups), m.branch_1x1.bn)
    if cin == cout and stride == 1:
        assert m.identity is not None
        manual = manual + bn(x, m.identity)
    else:
        assert m.identity is None
    assert rel_err(ref, nn.functional.silu(manual)) < 1e-5
    m.switch_to_deploy()
    assert m.deployed and not hasattr(m, 'dense')
    assert sum(isinstance(c, nn.Conv2d) for c in m.modules()) == 1
    assert rel_err(m(x), ref) <= 1e-4


def test_implicit_fusion_matches_unfused():
    torch.manual_seed(1)
    for k in (1, 3):
        m = ImplicitConv2d(6, 10, kernel_size=k).eval()
        m.implicit_a.implicit.data.normal_(0.0, 1.0)
        m.implicit_m.implicit.data.normal_(1.0, 0.5)
        x = torch.randn(2, 6, 7, 7)
        ref = m(x)
        manual = nn.functional.conv2d(x + m.implicit_a.implicit, m.conv.weight,
                                      m.conv.bias) * m.implicit_m.implicit
        assert rel_err(ref, manual) < 1e-6
        m.switch_to_deploy()
        assert m.implicit_a is None and m.implicit_m is None
        assert rel_err(m(x), ref) <= 1e-4


def test_conv_bn_fold_matches():
    torch.manual_seed(2)
    m = conv_bn_act(4, 6, 3, stride=2).eval()
    randomize_bn(m)
    x = torch.randn(1, 4, 9, 9)
    ref = m(x)
    m.switch_to_deploy()
    assert not m.with_norm and m.conv.bias is not None
    assert rel_err(m(x), ref) <= 1e-4


def test_shuffle_cardinality_groups_slices():
    # two maps with g=2 groups of 3 and 1 channels; channel value = its index
    a = torch.arange(6.).reshape(1, 6, 1, 1)
    b = torch.arange(10., 12.).reshape(1, 2, 1, 1)
    s = shuffle_cardinality([a, b], 2)
    assert s.shape == (1, 2, 4, 1, 1)
    assert s[0, 0, :, 0, 0].tolist() == [0., 1., 2., 10.]
    assert s[0, 1, :, 0, 0].tolist() == [3., 4., 5., 11.]
    with pytest.raises(ValueError, match='groups=4'):
        shuffle_cardinality([a, b], 4)


def test_eelan_group_expand_shuffle_merge_shapes():
    m = EELANBlock(16, 32, mid_channels=8, block_channels=4, num_convs=4, concat_every=2,
                   groups=2)
    assert all(b.conv.groups == 2 for b in m.blocks)
    assert m.blocks[0].conv.in_channels == 16 and m.blocks[0].conv.out_channels == 8
    x = torch.randn(2, 16, 8, 8)
    outs = m.expanded_outputs(x)
    assert [o.shape[1] for o in outs] == [8, 8, 16, 16]  # 2x expanded: 4, 4, 8, 8
    shuffled = shuffle_cardinality(outs, 2)
    assert shuffled.shape == (2, 2, m.cat_channels, 8, 8) and m.cat_channels == 24
    assert m(x).shape == (2, 32, 8, 8)


def test_eelan_with_one_group_is_elan():
    torch.manual_seed(3)
    kw = dict(mid_channels=8, block_channels=4, num_convs=4, concat_every=1)
    e = EELANBlock(16, 12, groups=1, **kw).eval()
    p = ELANBlock(16, 12, **kw).eval()
    assert count_params(e) == count_params(p)
    p.load_state_dict(e.state_dict())
    x = torch.randn(1, 16, 6, 6)
    assert torch.allclose(e(x), p(x), atol=1e-6)


def test_eelan_sum_block_adds_parallel_elans():
    torch.manual_seed(4)
    m = EELANSumBlock(8, 8, groups=2, mid_channels=4, num_convs=2).eval()
    x = torch.randn(1, 8, 6, 6)
    assert torch.allclose(m(x), m.branches[0](x) + m.branches[1](x))


def test_elan_param_count_matches_hand_count():
    # YOLOv7-L backbone stage-2 ELAN (256 -> 512, mid 128, 4 convs, every 2nd concat):
    # 2 x (256*128) + 128*128*9*4 + (4*128)*512 weights, + 2*C per BN
    m = ELANBlock(256, 512, 128, num_convs=4, concat_every=2)
    switch_to_deploy(m)
    weights = 2 * 256 * 128 + 4 * 128 * 128 * 9 + 512 * 512
    biases = 2 * 128 + 4 * 128 + 512
    assert count_params(m) == weights + biases


def test_blocks_shapes():
    x = torch.randn(2, 16, 16, 16)
    assert MPDownsample(16, 32)(x).shape == (2, 32, 8, 8)
    assert DownC(16, 24)(x).shape == (2, 24, 8, 8)
    assert SPPCSPC(16, 8)(x).shape == (2, 8, 16, 16)
    assert SPPCSPC(16, 8, use_3x3=False)(x).shape == (2, 8, 16, 16)
    assert CSPStage(16, 24, num_blocks=2)(x).shape == (2, 24, 16, 16)
    assert PRNBlock(16, 24, stride=2)(x).shape == (2, 24, 8, 8)


def test_prn_residual_reaches_only_part_of_channels():
    torch.manual_seed(5)
    m = PRNBlock(8, 8, partial_ratio=0.25).eval()
    x = torch.randn(1, 8, 5, 5)
    body = m.conv2(m.conv1(x))
    y = m(x)
    assert torch.allclose(y[:, :2], body[:, :2] + x[:, :2])
    assert torch.allclose(y[:, 2:], body[:, 2:])


SEARCH_OP_NAMES = ['yolov7_elan', 'yolov7_eelan', 'yolov7_eelan_sum', 'yolov7_sppcspc',
                   'yolov7_repconv', 'yolov7_prn', 'yolov7_csp']


@pytest.mark.parametrize('name', SEARCH_OP_NAMES + ['yolov7_mp', 'yolov7_downc'])
def test_search_ops_keep_shape_contract(name):
    strides = (2, ) if name in ('yolov7_mp', 'yolov7_downc') else (1, 2)
    x = torch.randn(2, 16, 12, 12)
    for s in strides:
        op = SEARCH_OPS.build(dict(type=name, in_channels=16, out_channels=24, stride=s))
        assert op(x).shape == (2, 24, 12 // s, 12 // s)


def test_search_op_bad_stride():
    with pytest.raises(ValueError, match='stride must be one of'):
        SEARCH_OPS.build(dict(type='yolov7_mp', in_channels=8, out_channels=8, stride=1))
    with pytest.raises(ValueError, match='downsample must be one of'):
        SEARCH_OPS.build(dict(type='yolov7_elan', in_channels=8, out_channels=8, stride=2,
                              downsample='avg'))


def test_bad_channel_splits_raise_clear_errors():
    with pytest.raises(ValueError, match='num_convs=3 is not a multiple of concat_every=2'):
        ELANBlock(8, 8, 4, num_convs=3, concat_every=2)
    with pytest.raises(ValueError, match='out_channels=7 must be even'):
        MPDownsample(8, 7)
    with pytest.raises(ValueError, match='split_ratio=0.5 of out_channels=7'):
        CSPStage(8, 7)
    with pytest.raises(ValueError, match='partial_ratio=0.5'):
        PRNBlock(5, 5)
    with pytest.raises(ValueError, match='groups=3 must divide'):
        RepConv(8, 8, groups=3)
