"""tools/demo.py, the README's main job, on the tiny data set and configs."""
import json
import os.path as osp

from helpers import ROOT, run_tool

from detnas.utils.config import build_detector

CFG = 'tests/configs/retinanet_tiny.py'
SEARCH_CFG = 'tests/configs/retinanet_mbv2_search_tiny.py'


def _demo(cfg, tiny_coco, work, *extra):
    return run_tool(['tools/demo.py', '--config', cfg, '--data-root', tiny_coco, '--work-dir',
                     str(work), '--shape', '128', '128', '--epochs', '1',
                     '--supernet-epochs', '1', '--population', '4', '--generations', '2',
                     *extra], timeout=1800)


def test_demo_trains_evaluates_and_summarises(tiny_coco, tmp_path):
    proc = _demo(CFG, tiny_coco, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.load(open(tmp_path / 'summary.json'))
    assert 'search' not in summary and set(summary['records']) == {'seed'}
    record = summary['records']['seed']
    tested = json.load(open(tmp_path / 'seed_seed0' / 'test' / 'test_metrics.json'))
    assert record['metrics']['AP'] == tested['coco/bbox_mAP']
    assert record['epochs'] == 1
    model = build_detector(CFG)
    assert summary['costs']['seed']['params'] == sum(p.numel() for p in model.parameters())
    assert osp.isfile(osp.join(ROOT, record['checkpoint']))
    assert '| seed |' in proc.stdout and 'AP_s' in proc.stdout
    assert '[demo] seed fine-tune: seed' in proc.stdout
    assert 'Epoch(train) [1][6/6]' in (tmp_path / 'seed_seed0' / 'train.log').read_text()
    # a second call reuses the finished run instead of training again
    trained = (tmp_path / 'seed_seed0' / 'train.log').stat().st_mtime
    again = _demo(CFG, tiny_coco, tmp_path)
    assert again.returncode == 0
    assert (tmp_path / 'seed_seed0' / 'train.log').stat().st_mtime == trained
    assert json.load(open(tmp_path / 'summary.json'))['records'] == summary['records']
    assert json.load(open(tmp_path / 'summary.json'))['records'] == summary['records']


def test_demo_adapts_under_the_budget_and_compares_with_uniform_scaling(tiny_coco, tmp_path):
    from mmengine.config import Config

    from detnas.nas.families import bind_family
    from detnas.nas.pipeline import SearchPlan
    proc = _demo(SEARCH_CFG, tiny_coco, tmp_path, '--budget', 'flops<=0.8*seed')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.load(open(tmp_path / 'summary.json'))
    assert set(summary['records']) == {'seed', 'adapted', 'uniform'}
    search_dir = tmp_path / 'search_seed0' / 'search'
    found = json.load(open(search_dir / 'search_summary.json'))
    assert summary['chosen_arch'] == found['chosen']['arch']
    assert summary['search']['wall_s'] >= found['timings']['total_s']
    plan = SearchPlan.from_config(Config.fromfile(SEARCH_CFG), str(tmp_path))
    seed_flops = found['seed_arch']['metrics']['flops']
    # the budget held, and the uniform arm costs what the adapted one does (within 5 %)
    assert found['chosen']['metrics']['flops'] <= 0.8 * seed_flops
    assert abs(summary['uniform']['flops'] / found['chosen']['metrics']['flops'] - 1) <= 0.05
    # the adapted arm is the chosen architecture, started from the seed mapped into it
    adapted = Config.fromfile(str(tmp_path / 'adapted.py')).model.backbone
    family = bind_family(plan.supernet_cfg.model.backbone.to_dict())
    assert {k: v for k, v in adapted.items() if k != 'init_cfg'} == \
        {k: v for k, v in family.fixed_backbone_config(found['chosen']['arch']).items()}
    assert adapted.init_cfg.checkpoint == str(tmp_path / 'adapted_backbone.pth')
    assert 'adapted_backbone.pth' in (tmp_path / 'adapted_seed0' / 'train.log').read_text()
    tested = json.load(open(tmp_path / 'adapted_seed0' / 'test' / 'test_metrics.json'))
    assert summary['records']['adapted']['metrics']['AP'] == tested['coco/bbox_mAP']
    chosen = build_detector(str(tmp_path / 'adapted.py'))
    assert summary['costs']['adapted']['params'] == sum(p.numel() for p in chosen.parameters())
    for arm in ('| seed |', '| uniform (width x', '| adapted (flops<=0.8*seed) |'):
        assert arm in proc.stdout


def test_demo_with_a_missing_config_is_a_clear_error(tmp_path):
    proc = run_tool(['tools/demo.py', '--config', str(tmp_path / 'nope.py')])
    assert proc.returncode == 2 and 'nope.py' in proc.stderr
