"""tools/demo.py, the README's main job, on the tiny data set and configs."""
import json
import os.path as osp

from helpers import ROOT, run_tool

from detnas.utils.config import build_detector

CFG = 'tests/configs/retinanet_tiny.py'
SEARCH_CFG = 'tests/configs/retinanet_mbv2_search_tiny.py'


def _demo(cfg, tiny_coco, work, *extra):
    return run_tool(['tools/demo.py', '--config', cfg, '--data-root', tiny_coco, '--work-dir',
                     str(work), '--shape', '128', '128', *extra], timeout=900)


def test_demo_trains_evaluates_and_summarises(tiny_coco, tmp_path):
    proc = _demo(CFG, tiny_coco, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.load(open(tmp_path / 'summary.json'))
    assert 'search' not in summary and set(summary['records']) == {'seed'}
    record = summary['records']['seed']
    tested = json.load(open(tmp_path / 'retinanet_tiny_seed_seed0' / 'test' /
                            'test_metrics.json'))
    assert record['metrics']['AP'] == tested['coco/bbox_mAP']
    assert record['epochs'] == 1
    model = build_detector(CFG)
    assert summary['costs']['seed']['params'] == sum(p.numel() for p in model.parameters())
    assert osp.isfile(osp.join(ROOT, record['checkpoint']))
    assert '| seed |' in proc.stdout and 'AP_s' in proc.stdout
    # the training log was streamed while it ran
    assert 'Epoch(train) [1][6/6]' in proc.stdout
    # a second call reuses the finished run instead of training again
    again = _demo(CFG, tiny_coco, tmp_path)
    assert again.returncode == 0 and 'Epoch(train)' not in again.stdout
    assert json.load(open(tmp_path / 'summary.json'))['records'] == summary['records']


def test_demo_searches_and_fine_tunes_the_chosen_backbone(tiny_coco, tmp_path):
    proc = _demo(SEARCH_CFG, tiny_coco, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.load(open(tmp_path / 'summary.json'))
    assert set(summary['records']) == {'seed', 'adapted'}
    search_dir = tmp_path / 'retinanet_mbv2_search_tiny_search_seed0' / 'search'
    found = json.load(open(search_dir / 'search_summary.json'))
    assert summary['search']['chosen_arch'] == found['chosen']['arch']
    assert summary['search']['wall_s'] >= found['timings']['total_s']
    # the adapted arm is the exported architecture, fine-tuned from the exported checkpoint
    chosen = build_detector(str(search_dir / 'chosen.py'))
    assert summary['costs']['adapted']['params'] == sum(
        p.numel() for p in chosen.parameters())
    adapted_log = (tmp_path / 'retinanet_mbv2_search_tiny_adapted_seed0' / 'train.log')
    assert 'chosen.pth' in adapted_log.read_text()
    tested = json.load(open(tmp_path / 'retinanet_mbv2_search_tiny_adapted_seed0' / 'test' /
                            'test_metrics.json'))
    assert summary['records']['adapted']['metrics']['AP'] == tested['coco/bbox_mAP']
    assert '| seed |' in proc.stdout and '| adapted |' in proc.stdout


def test_demo_with_a_missing_config_is_a_clear_error(tmp_path):
    proc = run_tool(['tools/demo.py', '--config', str(tmp_path / 'nope.py')])
    assert proc.returncode == 2 and 'nope.py' in proc.stderr
