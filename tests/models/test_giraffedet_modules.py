"""S2D-chain backbone and GFPN neck of GiraffeDet."""
import math

import pytest
import torch
import torch.nn.functional as F

from detnas.models.backbones.s2d_chain import S2DChain, SpaceToDepth
from detnas.models.necks.gfpn import GFPN


def _ceil_chain(size, n):
    """Spatial size after n stride-2 steps with ceil rounding (3x3 s2 p1 conv)."""
    for _ in range(n):
        size = math.ceil(size / 2)
    return size


def test_space_to_depth_matches_unfold_layout():
    x = torch.randn(2, 3, 6, 8)
    # the official S2D: F.unfold with kernel = stride = block, viewed as channels
    ref = F.unfold(x, 2, stride=2).view(2, 3 * 4, 3, 4)
    assert torch.equal(SpaceToDepth(2)(x), ref)


def test_space_to_depth_odd_sizes_zero_pad():
    x = torch.arange(15.).view(1, 1, 3, 5)
    y = SpaceToDepth(2)(x)
    assert y.shape == (1, 4, 2, 3)
    # channel 3 holds pixel (2y+1, 2x+1); the padded last row/column reads zeros
    assert y[0, 3].tolist() == [[6., 8., 0.], [0., 0., 0.]]
    assert y[0, 0].tolist() == [[0., 2., 4.], [10., 12., 14.]]


def test_s2d_chain_official_parameter_count():
    model = S2DChain()
    stem = 3 * 32 * 9 + 32 * 64 * 9
    widths = [64, 128, 256, 512, 1024, 2048]
    blocks = sum(4 * a * b for a, b in zip(widths[:-1], widths[1:]))
    bn = 2 * (32 + 64 + sum(widths[1:]))  # BN weight + bias, convs have no bias
    assert sum(p.numel() for p in model.parameters()) == stem + blocks + bn == 11201312
    assert model.out_channels == [128, 256, 512, 1024, 2048]
    assert model.strides == [8, 16, 32, 64, 128]


@pytest.mark.parametrize('hw', [(64, 64), (97, 131), (33, 20)])
def test_s2d_chain_shapes_any_input_size(hw):
    model = S2DChain(arch='tiny').eval()
    outs = model(torch.randn(1, 3, *hw))
    assert [o.shape[1] for o in outs] == [32, 64, 128, 256, 256]
    for i, o in enumerate(outs):
        assert tuple(o.shape[-2:]) == (_ceil_chain(hw[0], i + 3), _ceil_chain(hw[1], i + 3))


def test_s2d_chain_widths_and_out_indices():
    model = S2DChain(widths=[8, 16, 24], stem_channels=[4, 8], out_indices=(0, 2))
    outs = model(torch.randn(1, 3, 40, 40))
    assert [tuple(o.shape[1:]) for o in outs] == [(8, 5, 5), (24, 2, 2)]
    with pytest.raises(ValueError, match='out_indices'):
        S2DChain(widths=[8, 16], out_indices=(2, ))


def _features(channels, hw, batch=2):
    return [torch.randn(batch, c, _ceil_chain(hw[0], i + 3), _ceil_chain(hw[1], i + 3))
            for i, c in enumerate(channels)]


@pytest.mark.parametrize('channels', [[8, 16, 24], [8, 16, 24, 32], [8, 16, 24, 32, 40]])
@pytest.mark.parametrize('hw', [(64, 96), (75, 53)])
def test_gfpn_output_shapes(channels, hw):
    neck = GFPN(in_channels=channels, out_channels=16, num_layers=4, width_multiplier=0.5)
    feats = _features(channels, hw)
    outs = neck(feats)
    assert len(outs) == len(channels)
    for o, f in zip(outs, feats):
        assert o.shape == (2, 16, *f.shape[-2:])


def test_gfpn_extra_levels_are_pooled_from_the_last_input():
    neck = GFPN(in_channels=[8, 16, 24], out_channels=16, num_outs=5, num_layers=3)
    feats = _features([8, 16, 24], (77, 77))
    outs = neck(feats)
    assert [tuple(o.shape[-2:]) for o in outs] == [(10, 10), (5, 5), (3, 3), (2, 2), (1, 1)]


def test_gfpn_node_widths_and_gradients_reach_every_input():
    neck = GFPN(in_channels=[8, 16, 24], out_channels=20, depth_multiplier=2,
                width_multiplier=0.7)
    # 3 layers x 3 levels inner nodes at int(20 * 0.7) = 14, 3 outputs at 20
    widths = [n.fuse.conv.out_channels for n in neck.nodes]
    assert widths == [14] * 9 + [20] * 3
    feats = [f.requires_grad_() for f in _features([8, 16, 24], (48, 48))]
    sum(o.sum() for o in neck(feats)).backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in feats)


def test_gfpn_parameter_count_follows_the_graph():
    """Each node: 1x1 conv (no bias) over the concatenated inputs + 3x3 conv + BN."""
    cin, out, inner = [8, 16, 24], 20, 14
    neck = GFPN(in_channels=cin, out_channels=out, depth_multiplier=2, width_multiplier=0.7)
    g = neck.graph
    width = {n.index: cin[n.level] for n in g.input_nodes}
    expected = 0
    for node in g.fusion_nodes:
        c_out = out if node.layer == g.num_layers else inner
        c_in = sum(width[e.src] for e in g.in_edges(node))
        expected += c_in * c_out + 9 * c_out * c_out + 2 * c_out
        width[node.index] = c_out
    assert sum(p.numel() for p in neck.parameters()) == expected


def test_gfpn_bad_level_counts_raise():
    with pytest.raises(ValueError, match='num_outs'):
        GFPN(in_channels=[8, 16, 24], num_outs=2)
    with pytest.raises(ValueError, match='at least 2 levels'):
        GFPN(in_channels=[8])
    with pytest.raises(ValueError, match='inner_channels'):
        GFPN(in_channels=[8, 16, 24], inner_channels=[4, 4])


def test_gfpn_mismatched_inputs_raise():
    neck = GFPN(in_channels=[8, 16, 24], out_channels=8, num_layers=2)
    feats = _features([8, 16, 24], (32, 32))
    with pytest.raises(ValueError, match=r'in_channels=\[8, 16, 24\].*\[8, 16, 32\]'):
        neck(feats[:2] + [torch.randn(2, 32, *feats[2].shape[-2:])])
    with pytest.raises(ValueError, match='3 input levels'):
        neck(feats[:2])
