"""The demo RetinaNet heads at initialisation (configs/baselines/retinanet_mbv2_fpn_demo.py
and its GN-head variant): how much of their input's scale the towers pass on, against the
second-moment formula for random convolutions."""
import math
import os.path as osp

import pytest
import torch
from helpers import ROOT
from mmengine.config import Config

from detnas.analysis import rms, tower_outputs

CONFIGS = osp.join(ROOT, 'configs', 'baselines')


def _towers_rms_at_init(config: str):
    """RMS of each tower's output for a unit-RMS Gaussian input, and the head's config."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(osp.join(CONFIGS, config)).model.bbox_head
    init_default_scope('mmdet')
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    x = torch.randn(2, cfg.in_channels, 96, 96)  # borders (zero padding) are 4 %
    with torch.no_grad():
        outputs = tower_outputs(head, x)
    return dict(zip(('cls_convs', 'reg_convs'), map(rms, outputs))), cfg


def test_the_plain_towers_shrink_the_signal_as_the_variance_formula_says():
    """A conv with i.i.d. N(0, s^2) weights and fan-in n multiplies the input's second moment
    by s^2 n, and a ReLU of a symmetric pre-activation halves it: each of mmdet's std-0.01
    tower convs (fan-in 9 x 64) scales the RMS by 0.01 * sqrt(288) = 0.17."""
    rms, cfg = _towers_rms_at_init('retinanet_mbv2_fpn_demo.py')
    per_conv = 0.01 * math.sqrt(9 * cfg.feat_channels / 2)
    expected = per_conv ** cfg.stacked_convs
    assert cfg.stacked_convs == 2 and expected == pytest.approx(0.0288, abs=1e-4)
    for tower in ('cls_convs', 'reg_convs'):
        assert rms[tower] == pytest.approx(expected, rel=0.1)


def test_group_norm_restores_the_towers_signal():
    """After GroupNorm (zero mean, unit variance per group) and a ReLU the second moment is
    one half, whatever the conv weights' scale: RMS sqrt(1/2)."""
    rms, cfg = _towers_rms_at_init('retinanet_mbv2_fpn_gn_head_demo.py')
    assert cfg.norm_cfg.type == 'GN'
    for tower in ('cls_convs', 'reg_convs'):
        assert rms[tower] == pytest.approx(math.sqrt(0.5), rel=0.1)
