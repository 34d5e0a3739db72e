"""Least-squares refit after a lossy mapping: exact recovery where the dropped channels were
redundant, no change where the mapping was exact, never a worse fit, clear errors."""
import copy

import numpy as np
import pytest
import torch
from PIL import Image

from detnas.nas.mapping import (MappingConfig, MappingError, calibration_images, map_weights,
                                refit_mapping)
from mapping_helpers import TINY_ARCH, rel_err, tiny_mbv2

# enough pixels that every hidden channel is active somewhere (ReLU6 zeros many)
IMAGES = torch.randn(64, 3, 32, 32, generator=torch.Generator().manual_seed(7))
X = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(8))


def _duplicate_hidden_channels(model):
    """Makes hidden channel j + mid/2 of every expanding block a copy of channel j (expand
    filter, BN entries, depthwise filter): half of the hidden channels are redundant."""
    with torch.no_grad():
        for name, module in model.named_modules():
            if name.endswith('.expand_conv'):
                block = model.get_submodule(name[:-len('.expand_conv')])
                half = module.conv.out_channels // 2
                for tensor in (module.conv.weight, module.bn.weight, module.bn.bias,
                               module.bn.running_mean, module.bn.running_var,
                               block.depthwise_conv.conv.weight, block.depthwise_conv.bn.weight,
                               block.depthwise_conv.bn.bias,
                               block.depthwise_conv.bn.running_mean,
                               block.depthwise_conv.bn.running_var):
                    tensor[half:2 * half] = tensor[:half]
    return model


def _mapped(seed, target, **cfg):
    result = map_weights(seed.state_dict(), target, MappingConfig(**cfg))
    target.load_state_dict(result.state_dict)
    return target.eval(), result


def test_refit_recovers_redundant_channels_exactly():
    seed = _duplicate_hidden_channels(tiny_mbv2())
    half_expansion = [[e // 2 if e > 1 else e, c, n, s] for e, c, n, s in TINY_ARCH]
    target, result = _mapped(seed, tiny_mbv2(half_expansion, seed=5), narrow='first_k')
    before = [rel_err(t, s) for t, s in zip(target(X), seed(X))]
    assert max(before) > 0.05  # dropping half of the hidden channels changes the function
    stats = refit_mapping(result, seed, target, IMAGES, ridges=(1e-10, ))
    target.load_state_dict(result.state_dict)
    for t_out, s_out in zip(target(X), seed(X)):  # W1 + W2 reproduces the seed exactly
        assert rel_err(t_out, s_out) <= 1e-4
    linear = [k for k in stats if k.endswith('linear_conv.conv')]
    assert all(stats[k]['err_before'] > 0.01 for k in linear if 'layer1' not in k)
    assert all(s['err_after'] < 1e-5 for s in stats.values())
    rules = {r.key: r.rule for r in result.report.records}
    assert all(rules[k + '.weight'].endswith('+refit') for k in stats)
    assert result.report.meta['refit']['convs'] == len(stats)


def test_refit_leaves_an_exact_mapping_unchanged():
    seed = tiny_mbv2()
    target, result = _mapped(seed, tiny_mbv2(seed=5))
    mapped = {k: v.clone() for k, v in result.state_dict.items()}
    stats = refit_mapping(result, seed, target, IMAGES)
    assert stats and all(s['err_before'] < 1e-6 for s in stats.values())
    for key, value in result.state_dict.items():
        assert torch.allclose(value, mapped[key], rtol=1e-5, atol=1e-6), key


def test_refit_never_fits_worse_than_the_mapping():
    seed = tiny_mbv2()
    narrow = [[e, max(4, c * 3 // 4), max(1, n - 1), s] for e, c, n, s in TINY_ARCH]
    target, result = _mapped(seed, tiny_mbv2(narrow, stem=12, last=24, seed=5))
    stats = refit_mapping(result, seed, target, IMAGES)
    assert any(s['err_before'] > 0.01 for s in stats.values())
    for key, s in stats.items():
        assert s['err_after'] <= s['err_before'] + 1e-9, key
        assert s['ridge'] in (1e-3, 1e-2, 1e-1, 1.0)


def test_refit_bad_input():
    seed = tiny_mbv2()
    target, result = _mapped(seed, tiny_mbv2(seed=5))
    with pytest.raises(MappingError, match=r'\(N, 3, H, W\)'):
        refit_mapping(result, seed, target, torch.zeros(0, 3, 32, 32))
    result.report.channel_maps.clear()  # what a cross-family result looks like
    with pytest.raises(MappingError, match='within-family'):
        refit_mapping(result, seed, target, IMAGES)


def test_calibration_images(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(tmp_path / f'{i}.png')
    (tmp_path / 'notes.txt').write_text('not an image')
    images = calibration_images(str(tmp_path), num=2, size=(16, 24))
    assert images.shape == (2, 3, 16, 24)
    # image 0 is black: (0 - mean) / std per channel
    assert torch.allclose(images[0, :, 0, 0], torch.tensor([-123.675 / 58.395,
                                                            -116.28 / 57.12,
                                                            -103.53 / 57.375]))
    with pytest.raises(MappingError, match='missing.*does not exist'):
        calibration_images(str(tmp_path / 'missing'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(MappingError, match='no images'):
        calibration_images(str(tmp_path / 'empty'))


SHALLOWER = [[e, c, max(1, n - 1), s] for e, c, n, s in TINY_ARCH]  # stages 2, 3 lose a block


def _stage_errors(seed, target, images):
    """Relative L2 error of the outputs of the stages the target keeps shallower."""
    with torch.no_grad():
        s_out, t_out = seed(images), target(images)
    return [((t_out[i] - s_out[i]).norm() / s_out[i].norm()).item() for i in (1, 2)]


def test_refit_absorbs_dropped_blocks_into_the_stage_end():
    seed = tiny_mbv2()
    target, result = _mapped(seed, tiny_mbv2(SHALLOWER, seed=5))
    ends = {k: m['stage_end'] for k, m in result.report.channel_maps.items()
            if 'stage_end' in m}
    assert ends == {
        'layer2.0.linear_conv.conv': dict(block='layer2.0', seed_output='layer2',
                                          dropped=['layer2.1'], norm='layer2.0.linear_conv.bn',
                                          residual=False),
        'layer3.1.linear_conv.conv': dict(block='layer3.1', seed_output='layer3',
                                          dropped=['layer3.2'], norm='layer3.1.linear_conv.bn',
                                          residual=True)}
    plain = copy.deepcopy(result)
    refit_mapping(plain, seed, target, IMAGES, absorb_dropped=False)
    target.load_state_dict(plain.state_dict)
    err_plain = _stage_errors(seed, target, X)
    stats = refit_mapping(result, seed, target, IMAGES)
    target.load_state_dict(result.state_dict)
    err_absorbed = _stage_errors(seed, target, X)
    assert {k: s['absorbed'] for k, s in stats.items() if 'absorbed' in s} == {
        k: e['dropped'] for k, e in ends.items()}
    assert result.report.meta['refit']['absorbed'] == {k: e['dropped'] for k, e in ends.items()}
    # held-out images: the kept last block now also does the dropped block's work
    for plain_err, absorbed_err in zip(err_plain, err_absorbed):
        assert absorbed_err < 0.85 * plain_err, (err_plain, err_absorbed)
    rules = {r.key: r.rule for r in result.report.records}
    assert rules['layer3.1.linear_conv.bn.running_var'].endswith('+refit')
    assert not rules['layer3.0.linear_conv.bn.running_var'].endswith('+refit')


def test_absorbing_an_identity_block_keeps_the_exact_function():
    """A dropped block whose residual branch outputs zero: the shallower target computes the
    seed's function exactly, and the absorbing refit (with its BN re-derived from new
    statistics) must keep it."""
    seed = tiny_mbv2()
    with torch.no_grad():
        bn = seed.get_submodule('layer3.2.linear_conv.bn')
        bn.weight.zero_()
        bn.bias.zero_()
    shallower = [[e, c, n - 1 if i == 2 else n, s] for i, (e, c, n, s) in enumerate(TINY_ARCH)]
    target, result = _mapped(seed, tiny_mbv2(shallower, seed=5))
    stats = refit_mapping(result, seed, target, IMAGES, ridges=(1e-10, ))
    assert stats['layer3.1.linear_conv.conv']['absorbed'] == ['layer3.2']
    target.load_state_dict(result.state_dict)
    new_bn = target.get_submodule('layer3.1.linear_conv.bn')
    old_bn = seed.get_submodule('layer3.1.linear_conv.bn')
    assert not torch.allclose(new_bn.running_var, old_bn.running_var)  # statistics renewed
    for t_out, s_out in zip(target(X), seed(X)):
        assert rel_err(t_out, s_out) <= 1e-4
