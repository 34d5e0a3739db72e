"""detnas.analysis.tower_signal (tools/analysis/tower_signal.py): tower outputs are measured
where the head computes them."""
import json
import os.path as osp

import pytest
import torch
from helpers import ROOT, run_tool, tiny_data_options
from mmengine.config import Config

from detnas.analysis import tower_signal
from detnas.datasets import load_batches
from detnas.utils.config import build_detector


@pytest.mark.parametrize('head, reg_follows_cls', [
    (dict(type='RetinaHead'), False),
    (dict(type='SeqRetinaHead', seq_order='cls_reg'), True),
])
def test_scaling_the_cls_tower_reaches_the_reg_tower_only_in_sequence(tiny_coco, head,
                                                                      reg_follows_cls):
    """Towers without bias or norm are positively homogeneous: doubling the first cls conv
    doubles the cls tower's output, and the reg tower's too exactly when it reads the cls
    tower (Seq-Head), never when both read the FPN level (parallel head)."""
    cfg = Config.fromfile(osp.join(ROOT, 'tests', 'configs', 'retinanet_tiny.py'))
    cfg.merge_from_dict(dict(o.split('=', 1) for o in tiny_data_options(tiny_coco)))
    cfg.model.bbox_head.update(head)
    model = build_detector(cfg)
    with torch.no_grad():
        for conv in [*model.bbox_head.cls_convs, *model.bbox_head.reg_convs]:
            conv.conv.bias.zero_()
    batches, _ = load_batches(cfg.test_dataloader.dataset, batch_size=4, num_images=4)
    before = tower_signal(model, batches)
    with torch.no_grad():
        model.bbox_head.cls_convs[0].conv.weight.mul_(2)
    after = tower_signal(model, batches)
    assert after['input'] == pytest.approx(before['input'], rel=1e-6)
    assert after['cls_tower'] == pytest.approx(2 * before['cls_tower'], rel=1e-5)
    expected = 2 * before['reg_tower'] if reg_follows_cls else before['reg_tower']
    assert after['reg_tower'] == pytest.approx(expected, rel=1e-5)


def test_a_head_without_towers_is_a_clear_error(tmp_path):
    cfg = tmp_path / 'yolo.py'
    cfg.write_text(f"_base_ = '{ROOT}/configs/yolov7/yolov7_tiny_demo.py'\n")
    proc = run_tool(['tools/analysis/tower_signal.py', str(cfg)])
    assert proc.returncode == 2 and 'cls_convs / reg_convs' in proc.stderr


def test_data_root_moves_every_loader(tiny_coco, tmp_path):
    """--data-root replaces the loaders' own folders (a bare ``data_root=`` override does not
    reach them: mmdet configs copy it into each dataset when the file is read)."""
    cfg = tmp_path / 'elsewhere.py'
    cfg.write_text(f"_base_ = '{ROOT}/tests/configs/retinanet_tiny.py'\n"
                   "test_dataloader = dict(dataset=dict(data_root='/nonexistent/'))\n")
    out = tmp_path / 'signal'
    missing = run_tool(['tools/analysis/tower_signal.py', str(cfg), '--num-images', '2'])
    assert missing.returncode != 0 and '/nonexistent/' in missing.stderr
    proc = run_tool(['tools/analysis/tower_signal.py', str(cfg), '--num-images', '2',
                     '--data-root', tiny_coco, '--out', str(out)])
    assert proc.returncode == 0, proc.stderr
    row, = json.loads((tmp_path / 'signal.json').read_text())['rows']
    assert row['input'] > 0 and row['cls_tower'] > 0
