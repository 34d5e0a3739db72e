"""Feature distillation after a lossy mapping: zero loss on exact maps, a lower stage-output
error on lossy ones, stage channel maps that follow the mapping, clear errors."""
import pytest
import torch

from detnas.nas.mapping import MappingConfig, MappingError, distill_mapping, map_weights
from detnas.nas.mapping.distill import stage_channel_maps
from mapping_helpers import TINY_ARCH, rel_err, tiny_mbv2

IMAGES = torch.randn(40, 3, 32, 32, generator=torch.Generator().manual_seed(3))
X = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(4))


def _mapped(seed, target, **cfg):
    return map_weights(seed.state_dict(), target, MappingConfig(**cfg))


def test_exact_mapping_has_nothing_to_distill():
    seed = tiny_mbv2().eval()
    target = tiny_mbv2(seed=9)
    result = _mapped(seed, target)
    stats = distill_mapping(result, seed, target, IMAGES, steps=0)
    assert stats['err_before'] < 1e-6 and stats['err_after'] < 1e-6
    target.load_state_dict(result.state_dict)
    for t, s in zip(target.eval()(X), seed(X)):
        assert rel_err(t, s) < 1e-5


def test_stage_channel_maps_follow_the_mapping():
    """Narrower stages keep the seed channels the L1 rule picked; each stage map lists, for
    the target's kept channels, the seed channel they copy."""
    seed = tiny_mbv2().eval()
    narrow = [[e, c // 2, n, s] for e, c, n, s in TINY_ARCH]
    target = tiny_mbv2(narrow, stem=8, seed=2)
    result = _mapped(seed, target, narrow='l1')
    maps = stage_channel_maps(target, result.report.channel_maps)
    assert sorted(maps) == ['layer1', 'layer2', 'layer3']
    for s, (_, _, n, _) in enumerate(narrow, 1):
        t_ch, s_ch = maps[f'layer{s}']
        last = f'layer{s}.{n - 1}.linear_conv.conv'
        width = target.get_submodule(last).out_channels  # MobileNetV2 rounds to 8
        seed_width = seed.get_submodule(last).out_channels
        assert t_ch.tolist() == list(range(width))
        assert s_ch.tolist() == result.report.channel_maps[last]['out_index']
        assert len(set(s_ch.tolist())) == width and max(s_ch.tolist()) < seed_width
    assert [len(maps[f'layer{s}'][0]) for s in (1, 2, 3)] == [8, 8, 16]


def test_distillation_lowers_the_stage_error_of_a_lossy_map():
    seed = tiny_mbv2().eval()
    half_expansion = [[e // 2 if e > 1 else e, c, n, s] for e, c, n, s in TINY_ARCH]
    target = tiny_mbv2(half_expansion, seed=5)
    result = _mapped(seed, target, narrow='l1')
    before = dict(result.state_dict)
    torch.manual_seed(0)
    stats = distill_mapping(result, seed, target, IMAGES, steps=60, lr=3e-3, batch=8)
    assert stats['err_before'] > 0.1  # half of the hidden channels gone
    assert stats['err_after'] < 0.8 * stats['err_before']  # 0.55 -> 0.36 when written
    assert stats['images'] == 32 and stats['heldout_images'] == 8 and not stats['reverted']
    assert result.report.meta['distill'] == stats
    assert any(not torch.equal(before[k], v) for k, v in result.state_dict.items())
    # the caller's seed module is left as it was: no hooks, same weights
    assert not seed.layer1._forward_hooks


def test_a_distillation_that_hurts_is_reverted():
    """A step size far too large for the weights makes the held-out error grow: the mapped
    weights come back unchanged."""
    seed = tiny_mbv2().eval()
    half_expansion = [[e // 2 if e > 1 else e, c, n, s] for e, c, n, s in TINY_ARCH]
    target = tiny_mbv2(half_expansion, seed=5)
    result = _mapped(seed, target, narrow='l1')
    before = {k: v.clone() for k, v in result.state_dict.items()}
    stats = distill_mapping(result, seed, target, IMAGES, steps=3, lr=1.0)
    assert stats['reverted'] and stats['err_after'] > stats['err_before']
    assert all(torch.equal(before[k], v) for k, v in result.state_dict.items())


def test_distillation_errors():
    seed = tiny_mbv2().eval()
    target = tiny_mbv2(seed=1)
    result = _mapped(seed, target)
    with pytest.raises(MappingError, match=r'\(N >= 2, 3, H, W\)'):
        distill_mapping(result, seed, target, IMAGES[:1])
    with pytest.raises(MappingError, match='steps >= 0, lr > 0'):
        distill_mapping(result, seed, target, IMAGES, lr=0)
    result.report.channel_maps = {}
    with pytest.raises(MappingError, match='within-family mapping'):
        distill_mapping(result, seed, target, IMAGES)
