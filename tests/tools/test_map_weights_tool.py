"""tools/analysis/map_weights.py: the ImageNet seed into a narrower, shallower MobileNetV2,
with and without the least-squares refit on calibration images."""
import json

import torch
from helpers import run_tool

from detnas.models.backbones.adapted_mobilenet_v2 import AdaptedMobileNetV2

ARCH = [[1, 16, 1, 1], [4, 24, 2, 2], [6, 24, 2, 2], [6, 48, 3, 2], [6, 96, 3, 1],
        [4, 160, 2, 2], [6, 320, 1, 1]]


def _config(tmp_path):
    cfg = tmp_path / 'narrow.py'
    cfg.write_text("custom_imports = dict(imports=['detnas'], allow_failed_imports=False)\n"
                   f"backbone = dict(type='AdaptedMobileNetV2', arch_setting={ARCH}, "
                   'out_indices=(2, 4, 6))\n')
    return str(cfg)


def test_map_weights_with_refit(tiny_coco, tmp_path):
    cfg = _config(tmp_path)
    plain, refit = tmp_path / 'plain.pth', tmp_path / 'refit.pth'
    assert run_tool(['tools/analysis/map_weights.py', cfg, '--out', str(plain),
                     '--rows', '3']).returncode == 0
    proc = run_tool(['tools/analysis/map_weights.py', cfg, '--out', str(refit), '--rows', '3',
                     '--calibration', f'{tiny_coco}/train', '--calibration-num', '12',
                     '--calibration-size', '128', '128'])
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.load(open(tmp_path / 'refit.json'))
    assert report['meta']['refit']['images'] == 12
    assert report['meta']['refit']['mean_err_after'] < report['meta']['refit']['mean_err_before']
    refitted = {t['key'] for t in report['tensors'] if t['rule'].endswith('+refit')}
    convs = {k for k in refitted if k.endswith('conv.weight')}
    assert len(convs) == report['meta']['refit']['convs'] > 0
    # stages 3, 4 and 6 are a block shallower than the seed's: their last blocks stand in
    assert report['meta']['refit']['absorbed'] == {
        'layer3.1.linear_conv.conv': ['layer3.2'], 'layer4.2.linear_conv.conv': ['layer4.3'],
        'layer6.1.linear_conv.conv': ['layer6.2']}
    assert 'layer4.2.linear_conv.conv stands in for the dropped layer4.3' in proc.stdout
    assert refitted - convs == {f'layer{s}.linear_conv.bn.{p}' for s in ('3.1', '4.2', '6.1')
                                for p in ('weight', 'bias', 'running_mean', 'running_var')}
    a = torch.load(plain)['state_dict']
    b = torch.load(refit)['state_dict']
    backbone = AdaptedMobileNetV2(arch_setting=ARCH, out_indices=(2, 4, 6))
    backbone.load_state_dict(b)  # loads as the config's backbone
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed and changed <= refitted  # only refitted weights differ


def test_map_weights_refit_with_a_missing_folder_is_a_clear_error(tmp_path):
    proc = run_tool(['tools/analysis/map_weights.py', _config(tmp_path), '--out',
                     str(tmp_path / 'x.pth'), '--calibration', str(tmp_path / 'nowhere')])
    assert proc.returncode == 2 and 'nowhere' in proc.stderr and 'does not exist' in proc.stderr


def test_map_weights_with_refit_and_distillation(tiny_coco, tmp_path):
    out = tmp_path / 'distilled.pth'
    proc = run_tool(['tools/analysis/map_weights.py', _config(tmp_path), '--out', str(out),
                     '--rows', '3', '--calibration', f'{tiny_coco}/train',
                     '--calibration-num', '12', '--calibration-size', '96', '96',
                     '--distill-steps', '3'])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'distillation: stage-output error' in proc.stdout
    meta = json.load(open(tmp_path / 'distilled.json'))['meta']
    assert meta['distill']['steps'] == 3 and meta['distill']['heldout_images'] == 2
    assert 'refit' in meta
    AdaptedMobileNetV2(arch_setting=ARCH, out_indices=(2, 4, 6)).load_state_dict(
        torch.load(out)['state_dict'])
    proc = run_tool(['tools/analysis/map_weights.py', _config(tmp_path), '--out', str(out),
                     '--distill-steps', '3'])
    assert proc.returncode == 2 and '--distill-steps needs --calibration' in proc.stderr
