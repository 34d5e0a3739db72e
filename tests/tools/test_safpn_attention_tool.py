"""tools/analysis/safpn_attention.py: the reported matrix is the softmax the neck computes."""
import json
import os.path as osp

import torch
from helpers import ROOT, run_tool, tiny_data_options

from detnas.utils.config import build_detector


def _configs(tmp_path):
    base = osp.join(ROOT, 'tests', 'configs', 'retinanet_tiny.py')
    safpn = tmp_path / 'safpn_tiny.py'
    safpn.write_text(f"_base_ = '{base}'\nmodel = dict(neck=dict(type='SAFPN'))\n")
    return str(safpn), base


def test_reports_the_attention_the_neck_applies(tiny_coco, tmp_path):
    cfg, _ = _configs(tmp_path)
    model = build_detector(cfg)
    attention = model.neck.scale_attention
    levels = attention.num_levels
    # input-independent weights: zero weight, known bias -> softmax(bias) for every image
    logits = torch.arange(levels * levels, dtype=torch.float32).view(levels, levels) / 3
    with torch.no_grad():
        attention.excite.weight.zero_()
        attention.excite.bias.copy_(logits.flatten())
    ckpt = tmp_path / 'model.pth'
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out = tmp_path / 'attn'
    proc = run_tool(['tools/analysis/safpn_attention.py', cfg, str(ckpt), '--num-images', '5',
                     '--out', str(out), '--cfg-options', *tiny_data_options(tiny_coco)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.load(open(f'{out}.json'))
    assert result['images'] == 5 and result['uniform'] == 1 / levels
    assert torch.allclose(torch.tensor(result['mean']), logits.softmax(dim=1), atol=1e-6)
    assert torch.tensor(result['std']).abs().max() < 1e-6
    assert osp.getsize(f'{out}.png') > 0 and 'out L0' in proc.stdout


def test_an_fpn_config_or_a_foreign_checkpoint_is_a_clear_error(tiny_coco, tmp_path):
    cfg, fpn_cfg = _configs(tmp_path)
    ckpt = tmp_path / 'fpn.pth'
    torch.save(dict(state_dict=build_detector(fpn_cfg).state_dict()), ckpt)
    proc = run_tool(['tools/analysis/safpn_attention.py', fpn_cfg, str(ckpt)])
    assert proc.returncode == 2 and 'not SAFPN' in proc.stderr
    proc = run_tool(['tools/analysis/safpn_attention.py', cfg, str(ckpt)])
    assert proc.returncode == 2 and 'does not fit the model' in proc.stderr
    assert 'neck.' in proc.stderr  # names the keys that differ
