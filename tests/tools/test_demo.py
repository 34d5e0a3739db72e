"""tools/demo.py, the README's main job, on the tiny data set and config."""
import json
import os.path as osp

from helpers import ROOT, run_tool

from detnas.utils.experiment import build_detector

CFG = 'tests/configs/retinanet_tiny.py'


def test_demo_trains_evaluates_and_summarises(tiny_coco, tmp_path):
    args = ['tools/demo.py', '--config', CFG, '--data-root', tiny_coco, '--work-dir',
            str(tmp_path), '--shape', '128', '128']
    proc = run_tool(args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.load(open(tmp_path / 'summary.json'))
    run_dir = tmp_path / 'retinanet_tiny_seed0'
    tested = json.load(open(run_dir / 'test' / 'test_metrics.json'))
    assert summary['record']['metrics']['AP'] == tested['coco/bbox_mAP']
    assert summary['record']['epochs'] == 1
    model = build_detector(CFG)
    assert summary['costs']['params'] == sum(p.numel() for p in model.parameters())
    assert osp.isfile(osp.join(ROOT, summary['record']['checkpoint']))
    assert '| retinanet_tiny |' in proc.stdout and 'AP_s' in proc.stdout
    # the training log was streamed while it ran
    assert 'Epoch(train) [1][6/6]' in proc.stdout
    # a second call reuses the finished run instead of training again
    again = run_tool(args)
    assert again.returncode == 0 and 'Epoch(train)' not in again.stdout
    assert json.load(open(tmp_path / 'summary.json'))['record'] == summary['record']


def test_demo_with_a_missing_config_is_a_clear_error(tmp_path):
    proc = run_tool(['tools/demo.py', '--config', str(tmp_path / 'nope.py')])
    assert proc.returncode == 2 and 'nope.py' in proc.stderr
