"""Tests of the DDFFusion small-object fusion block (neck) built on detnas.ops."""
import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import detnas  # noqa: F401  (registers DDFFusion)


def _levels(channels=(8, 8, 8), sizes=(16, 8, 4), n=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(n, c, s, s, generator=gen) for c, s in zip(channels, sizes))


def test_starts_as_identity_then_learns():
    block = MODELS.build(dict(type='DDFFusion', in_channels=8, groups=2)).eval()
    feats = _levels()
    outs = block(feats)
    assert len(outs) == 3
    for a, b in zip(outs, feats):  # zero-initialised output conv: exact identity
        assert torch.equal(a, b)
    # the branch still receives gradient through the zero conv, so it can learn
    block.train()
    block(feats)[0].sum().backward()
    assert block.out_proj.weight.grad.abs().sum() > 0


def test_enhances_only_the_shallow_level_and_uses_the_deep_level():
    block = MODELS.build(
        dict(type='DDFFusion', in_channels=[4, 8, 16], shallow_level=0, deep_level=2,
             mid_channels=8, groups=2, zero_init_out=False)).eval()
    feats = _levels(channels=(4, 8, 16))
    outs = block(feats)
    assert outs[0].shape == feats[0].shape and not torch.allclose(outs[0], feats[0])
    assert outs[1] is feats[1] and outs[2] is feats[2]
    changed = list(feats)
    changed[2] = feats[2] + 1.0  # the deep level feeds the shallow output
    assert not torch.allclose(block(tuple(changed))[0], outs[0])
    changed = list(feats)
    changed[1] = feats[1] + 1.0  # an unrelated level does not
    assert torch.equal(block(tuple(changed))[0], outs[0])


def test_inserts_after_fpn_in_a_neck_list():
    neck = MODELS.build([
        dict(type='FPN', in_channels=[4, 8, 16], out_channels=8, num_outs=3),
        dict(type='DDFFusion', in_channels=8, groups=4, zero_init_out=False),
    ])
    outs = neck(_levels(channels=(4, 8, 16)))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 16, 16), (2, 8, 8, 8), (2, 8, 4, 4)]


def test_demo_config_builds_and_runs():
    register_all_modules()
    cfg = Config.fromfile('configs/ddf/retinanet_mbv2_fpn_ddf_demo.py')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model).eval()
    assert type(model.neck[1]).__name__ == 'DDFFusion'
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in feats] == [8, 4, 2, 1, 1]


@pytest.mark.parametrize('kw,match', [
    (dict(in_channels=[8, 8], shallow_level=2), 'shallow_level=2 is out of range'),
    (dict(in_channels=8, deep_level=0), 'deep_level must differ'),
    (dict(in_channels=6, groups=4), 'groups=4 must divide'),
])
def test_bad_config_raises(kw, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(dict(type='DDFFusion', **kw))
