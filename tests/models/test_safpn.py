"""SAFPN: interface parity with mmdet's FPN, scale attention, FPN reproduction, cost."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.necks import FPN
from mmdet.registry import MODELS

import detnas  # noqa: F401  registers SAFPN
from detnas.models.necks.safpn import FINER_LEVEL_LOGIT, SAFPN, ScaleAttention


def count(module):
    return sum(p.numel() for p in module.parameters())


def pyramid(in_channels, size, batch=2, seed=0):
    """Backbone-like inputs: level k has stride 2**k relative to the first (ceil sizes)."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    feats = []
    for c in in_channels:
        feats.append(torch.randn(batch, c, h, w, generator=g))
        h, w = (h + 1) // 2, (w + 1) // 2
    return feats


# in_channels, out_channels, num_outs, start_level, end_level, add_extra_convs, relu_before
SETTINGS = [
    ([8, 16, 32], 8, 3, 0, -1, False, False),
    ([8, 16, 32], 8, 5, 0, -1, False, False),  # extra levels by max pooling
    ([8, 16, 32], 8, 5, 0, -1, True, False),
    ([8, 16, 32], 16, 5, 0, -1, 'on_input', False),  # RetinaNet style
    ([4, 8, 16, 32], 8, 5, 1, -1, 'on_lateral', False),
    ([4, 8, 16, 32], 8, 5, 1, -1, 'on_output', True),  # FCOS style
    ([4, 8, 16, 32], 8, 2, 0, 1, False, False),  # end_level cuts the top level
    ([4, 8, 16, 32], 8, 4, 0, -1, False, False),
    ([16], 8, 3, 0, -1, 'on_output', False),  # a single used level: no fusion at all
]


def build_pair(setting, **safpn_kwargs):
    in_channels, out_channels, num_outs, start, end, extra, relu = setting
    common = dict(in_channels=in_channels, out_channels=out_channels, num_outs=num_outs,
                  start_level=start, end_level=end, add_extra_convs=extra,
                  relu_before_extra_convs=relu)
    fpn = MODELS.build(dict(type='FPN', **common))
    safpn = MODELS.build(dict(type='SAFPN', **common, **safpn_kwargs))
    return fpn, safpn


@pytest.mark.parametrize('setting', SETTINGS)
@pytest.mark.parametrize('size', [(32, 48), (33, 47)])
def test_output_interface_matches_fpn(setting, size):
    fpn, safpn = build_pair(setting)
    feats = pyramid(setting[0], size)
    with torch.no_grad():
        ref = fpn(feats)
        out = safpn(feats)
    assert isinstance(out, tuple)
    assert [o.shape for o in out] == [r.shape for r in ref]


@pytest.mark.parametrize('setting', SETTINGS)
@pytest.mark.parametrize('attention', ['level', 'channel'])
def test_fewer_params_than_fpn(setting, attention):
    fpn, safpn = build_pair(setting, attention=attention)
    num_used = len(safpn.lateral_convs)
    fpn_params, safpn_params = count(fpn), count(safpn)
    if num_used == 1:  # nothing to fuse: the same layers as FPN
        assert safpn_params == fpn_params
    else:
        assert safpn_params < fpn_params
    # without sharing the output conv the neck costs FPN plus the attention MLP exactly
    _, unshared = build_pair(setting, attention=attention, share_fpn_conv=False)
    mlp = count(unshared.scale_attention) if unshared.scale_attention is not None else 0
    assert count(unshared) == fpn_params + mlp


def test_default_cost_at_retinanet_r50_width():
    """ResNet-50 RetinaNet neck: fewer params than FPN and (almost) the same MACs."""
    from mmengine.analysis import FlopAnalyzer
    common = dict(in_channels=[512, 1024, 2048], out_channels=256, start_level=0,
                  add_extra_convs='on_input', num_outs=5)
    fpn, safpn = FPN(**common), SAFPN(**common)
    assert count(safpn) < count(fpn)
    # the saving is the two 3x3 output convs that the shared one replaces, minus the MLP
    saved = 2 * (256 * 256 * 9 + 256)
    assert count(fpn) - count(safpn) == saved - count(safpn.scale_attention)
    feats = tuple(pyramid(common['in_channels'], (16, 16), batch=1))
    macs = []
    for neck in (fpn, safpn):
        analyzer = FlopAnalyzer(neck.eval(), (feats, ))
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        macs.append(analyzer.total())
    assert abs(macs[1] - macs[0]) / macs[0] < 0.01


def fpn_mimicking_attention(safpn):
    """Sets the attention so that level i averages the levels j >= i (FPN's top-down sum /
    (L - i)) and returns the per-level factor L - i."""
    attn = safpn.scale_attention
    num = attn.num_levels
    mask = torch.full((num, num, attn.weight_channels), -1e4)
    for i in range(num):
        mask[i, i:] = 0.0
    with torch.no_grad():
        attn.excite.weight.zero_()
        attn.excite.bias.copy_(mask.flatten())
    return [num - i for i in range(num)]


@pytest.mark.parametrize('setting', [SETTINGS[3], SETTINGS[4], SETTINGS[5], SETTINGS[1]])
@pytest.mark.parametrize('attention', ['level', 'channel'])
def test_reproduces_fpn_when_attention_is_top_down(setting, attention):
    """Function preservation: FPN's output at level i is fpn_conv_i(sum_{j>=i} up(lat_j)).
    With attention 1/(L-i) on those levels and FPN's weights (output conv scaled by L-i),
    SAFPN must give FPN's outputs, extra levels included."""
    fpn, safpn = build_pair(setting, attention=attention, share_fpn_conv=False)
    fpn.init_weights()
    num_used = len(safpn.lateral_convs)
    state = {}
    for k, v in fpn.state_dict().items():
        if k.startswith('fpn_convs.'):
            idx = int(k.split('.')[1])
            if idx >= num_used:
                k = k.replace(f'fpn_convs.{idx}.', f'extra_convs.{idx - num_used}.')
        state[k] = v
    missing, unexpected = safpn.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith('scale_attention.') for k in missing)
    factors = fpn_mimicking_attention(safpn)
    with torch.no_grad():
        for conv, factor in zip(safpn.fpn_convs, factors):
            conv.conv.weight.mul_(factor)
        feats = pyramid(setting[0], (32, 64))
        ref, out = fpn(feats), safpn(feats)
    for r, o in zip(ref, out):
        torch.testing.assert_close(o, r, rtol=1e-4, atol=1e-5)


def test_bottom_up_path_is_max_pooling():
    """One-hot attention on the finest level: every fused level is that level max-pooled."""
    safpn = SAFPN([4, 4, 4], 4, 3, attention='level', share_fpn_conv=False)
    attn = safpn.scale_attention
    logits = torch.full((3, 3, 1), -1e4)
    logits[:, 0] = 0.0
    with torch.no_grad():
        attn.excite.weight.zero_()
        attn.excite.bias.copy_(logits.flatten())
    laterals = pyramid([4, 4, 4], (16, 24))
    fused = safpn.fuse(laterals)
    for i, f in enumerate(fused):
        expected = F.max_pool2d(laterals[0], 2**i) if i else laterals[0]
        torch.testing.assert_close(f, expected)


@pytest.mark.parametrize('mode', ['level', 'channel'])
def test_attention_weights_sum_to_one(mode):
    torch.manual_seed(0)
    attn = ScaleAttention(num_levels=4, channels=6, mode=mode, hidden_channels=5)
    attn.init_weights()
    feats = pyramid([6] * 4, (16, 16), batch=3)
    uniform = attn(feats)
    k = 6 if mode == 'channel' else 1
    assert uniform.shape == (3, 4, 4, k)
    # the zero-initialised last layer starts training from a uniform mix of scales
    torch.testing.assert_close(uniform, torch.full_like(uniform, 0.25))
    with torch.no_grad():
        attn.excite.weight.normal_(std=3.0)
        attn.excite.bias.normal_(std=3.0)
        attn.squeeze.bias.fill_(1.0)  # hidden ReLUs active, so the context reaches the output
    weights = attn(feats)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=2), torch.ones(3, 4, k))
    assert weights.std() > 0.05  # no longer uniform: the weights depend on the context
    # different images get different weights (global context, not a fixed table)
    assert not torch.allclose(weights[0], weights[1])


@pytest.mark.parametrize('mode', ['level', 'channel'])
def test_top_down_init_starts_from_fpns_mix(mode):
    """attention_init='top_down': output level i weighs itself and the coarser levels
    equally, each finer level exp(FINER_LEVEL_LOGIT) times less, for every input."""
    safpn = SAFPN([8, 8, 8, 8], 8, 4, attention=mode, attention_init='top_down')
    safpn.init_weights()
    attn = safpn.scale_attention
    weights = attn(pyramid([8] * 4, (32, 32), batch=2))
    small = math.exp(FINER_LEVEL_LOGIT)
    for i in range(4):
        coarse = 1.0 / ((4 - i) + i * small)
        expected = torch.tensor([small * coarse] * i + [coarse] * (4 - i))
        got = weights[:, i].permute(0, 2, 1)  # (B, K, L_in)
        torch.testing.assert_close(got, expected.expand_as(got))
        assert got[..., i:].sum(dim=-1).min() > 0.94  # almost all weight on FPN's levels


def test_attention_receives_gradient():
    safpn = SAFPN([8, 16, 32], 8, 5, add_extra_convs='on_output', attention='channel')
    safpn.init_weights()
    out = safpn(pyramid([8, 16, 32], (32, 32)))
    sum(o.square().mean() for o in out).backward()
    assert safpn.scale_attention.excite.weight.grad.abs().sum() > 0
    assert safpn.fpn_convs[0].conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('kwargs, match', [
    (dict(add_extra_convs='on_top'), 'add_extra_convs'),
    (dict(attention='spatial'), 'attention mode'),
    (dict(attention_init='fpn'), 'attention init'),
    (dict(downsample='bilinear'), 'downsample'),
    (dict(num_outs=2), 'num_outs'),
    (dict(start_level=3), 'start_level'),
    (dict(end_level=1, num_outs=5), 'num_outs must equal'),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    args = dict(in_channels=[8, 16, 32], out_channels=8, num_outs=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        SAFPN(**args)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(TypeError, match='in_channels'):
        SAFPN(in_channels=32, out_channels=8, num_outs=3)
    safpn = SAFPN([8, 16, 32], 8, 3)
    with pytest.raises(ValueError, match='got 2 inputs but was built for 3'):
        safpn(pyramid([8, 16], (16, 16)))
