"""Uniform scaling of the seed to a FLOPs budget (the baseline of the Pareto bench)."""
import math

import pytest
from mmdet.registry import MODELS

from detnas.nas.families import bind_family
from detnas.nas.scaling import multipliers, scale_to_flops
from detnas.utils.complexity import model_complexity

SIZE = (160, 160)


@pytest.fixture(scope='module')
def family():
    return bind_family(dict(type='ElasticMobileNetV2', out_indices=(2, 4, 6)))


def _flops(backbone):
    return float(model_complexity(MODELS.build(backbone).eval(), SIZE)['macs'])


def test_unit_multipliers_give_the_seed(family):
    seed = family.build_fixed_backbone(family.space.seed_arch())
    assert _flops(family.uniform_backbone_config(1.0, 1.0)) == \
        float(model_complexity(seed, SIZE)['macs'])


@pytest.mark.parametrize('mode', ['width', 'compound'])
@pytest.mark.parametrize('fraction', [0.5, 0.75])
def test_scaling_meets_the_budget_within_five_percent(family, mode, fraction):
    seed = _flops(family.uniform_backbone_config())
    got = scale_to_flops(family, fraction * seed, SIZE, mode)
    assert abs(got.flops / (fraction * seed) - 1) <= 0.05
    assert got.flops == _flops(got.backbone)  # the reported count is the config's
    rows = got.backbone['arch_setting']
    if mode == 'width':  # MobileNetV2's width multiplier: every stage keeps its depth
        assert got.depth == 1.0 and [r[2] for r in rows] == [1, 2, 3, 4, 3, 3, 1]
        assert got.width < 1.0 and got.backbone['widen_factor'] == got.width
    else:  # EfficientNet's ratio: depth 1.2**phi, width 1.1**phi
        phi = math.log(got.width) / math.log(1.1)
        assert got.depth == pytest.approx(1.2 ** phi)
        assert sum(r[2] for r in rows) < 17


def test_compound_multipliers():
    assert multipliers('compound', 0.0) == (1.0, 1.0)
    assert multipliers('compound', -1.0) == pytest.approx((1 / 1.1, 1 / 1.2))
    assert multipliers('width', 0.6) == (0.6, 1.0)


def test_a_finer_divisor_reaches_flops_between_the_steps_of_eight(family):
    """Widths in multiples of 8 leave a gap in the uniform curve (at 320 px nothing between
    207 and 295 MFLOPs, bench/results/pareto_width); multiples of 2 land inside it."""
    seed = _flops(family.uniform_backbone_config())
    target = 0.43 * seed
    coarse = scale_to_flops(family, target, SIZE)
    fine = scale_to_flops(family, target, SIZE, divisor=2)
    assert abs(fine.flops / target - 1) <= 0.02 < abs(coarse.flops / target - 1)
    assert fine.flops == _flops(fine.backbone)
    layout = MODELS.build(fine.backbone).layout
    widths = [blocks[0].out_channels for blocks in layout.stages]
    assert all(w % 2 == 0 for w in widths) and any(w % 8 for w in widths)
