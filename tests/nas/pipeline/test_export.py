"""Export: a sub-net cut from the supernet is the standalone AdaptedMobileNetV2 / detector."""
import os.path as osp
import random

import pytest
import torch
from helpers import run_tool, tiny_data_options
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from detnas.models.backbones.adapted_mobilenet_v2 import AdaptedMobileNetV2
from detnas.nas.families.mobilenet_v2 import ElasticMobileNetV2
from detnas.nas.supernet.bn_calibration import recalibrate_bn
from detnas.nas.families import bind_family
from detnas.nas.pipeline import export_subnet
from detnas.nas.families.mobilenet_v2 import mobilenet_v2_search_space
from detnas.nas.space import load_arch_yaml
from detnas.nas.pipeline import build_supernet_config
from detnas.utils.init_weights import init_weights_quietly

SEED = 'detnas://mobilenet_v2_imagenet'
BACKBONE_CFG = dict(type='ElasticMobileNetV2', search_space=mobilenet_v2_search_space(),
                    seed=SEED, out_indices=(1, 2, 4, 6, 7))


def _batches(n=2, size=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(2, 3, size, size, generator=gen) for _ in range(n)]


def _close(a, b, rel=1e-5):
    assert a.shape == b.shape
    err = (a - b).abs().max().item()
    assert err <= rel * b.abs().max().item(), err


def _hand_arch(space):
    """Skips, small kernels and expansions, narrow widths."""
    arch = space.seed_arch()
    st = arch['stages']
    st[1].update(width=16, depth=3, layers=[dict(op='mbconv', kernel=5, expand_ratio=3),
                                            dict(op='skip'),
                                            dict(op='mbconv', kernel=7, expand_ratio=4)])
    st[3].update(width=48, depth=4, layers=[dict(op='mbconv', kernel=3, expand_ratio=4),
                                            dict(op='mbconv', kernel=5, expand_ratio=6),
                                            dict(op='skip'),
                                            dict(op='mbconv', kernel=3, expand_ratio=3)])
    st[5].update(width=128, depth=2, layers=[dict(op='mbconv', kernel=7, expand_ratio=3),
                                             dict(op='skip')])
    return space.validate(arch)


@pytest.fixture(scope='module')
def supernet():
    torch.manual_seed(0)
    cfg = {k: v for k, v in BACKBONE_CFG.items() if k != 'type'}
    net = ElasticMobileNetV2(**cfg)
    init_weights_quietly(net)
    return net


def test_fixed_config_of_an_arch_with_skips(supernet):
    arch = _hand_arch(supernet.space)
    cfg = bind_family(BACKBONE_CFG).fixed_backbone_config(arch)
    rows = cfg['arch_setting']
    assert rows[1] == [[3, 4], 16, 2, 2, [5, 7], 1]  # the skipped layer is gone
    assert rows[3] == [[4, 6, 3], 48, 3, 2, [3, 5, 3], 1]
    assert rows[5] == [[3], 128, 1, 2, [7], 1]
    assert cfg['out_indices'] == (1, 2, 4, 6, 7) and cfg['stem_channels'] == 32


def test_exported_backbone_equals_the_active_subnet(supernet):
    space = supernet.space
    rng = random.Random(11)
    archs = [_hand_arch(space), space.smallest()] + [space.sample(rng) for _ in range(3)]
    assert any(l['op'] == 'skip' for a in archs for s in a['stages'] for l in s['layers'])
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    for arch in archs:
        supernet.set_arch(arch)
        recalibrate_bn(supernet, _batches())
        supernet.eval()
        fixed = bind_family(BACKBONE_CFG).fixed_backbone_config(arch)
        model = AdaptedMobileNetV2(**{k: v for k, v in fixed.items() if k != 'type'})
        model.load_state_dict(supernet.static_state(), strict=True)
        model.eval()
        with torch.no_grad():
            for a, b in zip(model(x), supernet(x)):
                _close(a, b)
        # recalibrating the standalone model on the same batches gives the same statistics
        recalibrate_bn(model, _batches())
        with torch.no_grad():
            for a, b in zip(model.eval()(x), supernet(x)):
                _close(a, b, rel=1e-4)
    supernet.set_arch(space.largest())


def test_first_block_turns_residual_when_widths_meet():
    """A stride-1 stage whose width equals the previous stage's adds its input in its first
    block, in the supernet and in the exported model alike (mmdet's rule)."""
    space = mobilenet_v2_search_space()
    space['stages'][4]['widths'] = [64, 96]  # stage 5 (stride 1) may meet stage 4's 64
    cfg = dict(BACKBONE_CFG, search_space=space)
    torch.manual_seed(0)
    net = ElasticMobileNetV2(**{k: v for k, v in cfg.items() if k != 'type'})
    init_weights_quietly(net)
    arch = net.space.seed_arch()
    arch['stages'][4]['width'] = 64
    net.set_arch(arch)
    recalibrate_bn(net, _batches())
    fixed = bind_family(cfg).fixed_backbone_config(arch)
    model = AdaptedMobileNetV2(**{k: v for k, v in fixed.items() if k != 'type'})
    assert model.layer5[0].with_res_shortcut
    model.load_state_dict(net.static_state(), strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        for a, b in zip(model.eval()(x), net.eval()(x)):
            _close(a, b)


@pytest.fixture(scope='module')
def detector_setup(tmp_path_factory):
    """The demo RetinaNet as a supernet detector (default space), built and seeded."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    seed_cfg = Config.fromfile('tests/configs/retinanet_tiny.py')
    cfg = build_supernet_config(seed_cfg, mobilenet_v2_search_space())
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    init_weights_quietly(model)
    return cfg, model, MODELS


def _detector_outputs(model, x):
    with torch.no_grad():
        cls, reg = model.eval()(x, mode='tensor')
    return list(cls) + list(reg)


def test_supernet_config_adapts_the_seed_detector(detector_setup):
    cfg, model, _ = detector_setup
    assert cfg.model.backbone.type == 'ElasticMobileNetV2' and cfg.model.backbone.seed == SEED
    assert cfg.model.neck.type == 'ElasticFPN' and cfg.model.neck.in_channels == [40, 112, 320]
    assert model.backbone.max_out_channels == (40, 112, 320)


def test_detector_export_round_trip(detector_setup, tmp_path):
    cfg, model, MODELS = detector_setup
    arch = _hand_arch(model.backbone.space)
    arch['stages'][2]['width'] = 24  # narrower outputs into the FPN laterals
    arch['stages'][4]['width'] = 72
    model.backbone.set_arch(arch)
    recalibrate_bn(model, _batches(), forward=lambda b: model(b, mode='tensor'))
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    expected = _detector_outputs(model, x)

    result = export_subnet(cfg, arch, str(tmp_path / 'out'), model=model)
    exported = Config.fromfile(result.config)
    assert exported.load_from == result.checkpoint and osp.isfile(result.checkpoint)
    assert exported.model.backbone.type == 'AdaptedMobileNetV2'
    assert exported.model.neck.type == 'FPN' and exported.model.neck.in_channels == [24, 72, 320]
    assert load_arch_yaml(result.arch_yaml, model.backbone.space) == arch
    standalone = MODELS.build(exported.model)
    load_checkpoint(standalone, result.checkpoint, map_location='cpu', strict=True,
                    logger='silent')
    for a, b in zip(_detector_outputs(standalone, x), expected):
        _close(a, b)
    # the lateral conv of the 24-channel output reads the first 24 channels of the supernet's
    ckpt = torch.load(result.checkpoint, map_location='cpu', weights_only=False)
    sd = model.state_dict()
    assert torch.equal(ckpt['state_dict']['neck.lateral_convs.0.conv.weight'],
                       sd['neck.lateral_convs.0.conv.weight'][:, :24])
    assert ckpt['meta']['arch'] == arch

    # the same export from a saved supernet checkpoint
    path = str(tmp_path / 'supernet.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    again = export_subnet(cfg, arch, str(tmp_path / 'again'), checkpoint=path)
    ckpt2 = torch.load(again.checkpoint, map_location='cpu', weights_only=False)
    assert ckpt2['state_dict'].keys() == ckpt['state_dict'].keys()
    assert all(torch.equal(v, ckpt2['state_dict'][k]) for k, v in ckpt['state_dict'].items())
    model.backbone.set_arch(model.backbone.space.largest())


@pytest.mark.slow
def test_train_tool_fine_tunes_the_exported_subnet(detector_setup, tiny_coco, tmp_path):
    cfg, model, _ = detector_setup
    arch = model.backbone.space.smallest()
    model.backbone.set_arch(arch)
    result = export_subnet(cfg, arch, str(tmp_path / 'export'), model=model)
    model.backbone.set_arch(model.backbone.space.largest())
    proc = run_tool(['tools/train.py', result.config, '--work-dir', str(tmp_path / 'work'),
                     '--cfg-options', *tiny_data_options(tiny_coco)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert f'Load checkpoint from {result.checkpoint}' in log
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
