"""tools/search.py end to end on the tiny data: outputs, fine-tuning the export, resume,
torchrun and bad input."""
import json
import math
import os.path as osp
import re
import shutil

import pytest
from helpers import kill_9_when, run_tool, tiny_data_options
from scipy.stats import spearmanr

from detnas.nas.families.mobilenet_v2 import MobileNetV2SearchSpace
from detnas.nas.space import load_arch_yaml

CFG = 'tests/configs/retinanet_mbv2_search_tiny.py'
OUTPUTS = ('pareto.json', 'pareto.csv', 'pareto.png', 'chosen.yaml', 'chosen.py', 'chosen.pth',
           'seed_arch.yaml', 'seed_arch.py', 'seed_arch.pth',
           'latency_check.json', 'latency_table.json', 'search_state.json',
           'search_summary.json', 'split/heldout.json', 'split/search_train.json',
           'supernet/epoch_1.pth')


def _search_args(tiny_coco, work, *extra):
    return ['tools/search.py', CFG, '--work-dir', str(work), '--seed', '1', *extra,
            '--cfg-options', *tiny_data_options(tiny_coco)]


def _search(tiny_coco, work, *extra, timeout=600):
    return run_tool(_search_args(tiny_coco, work, *extra), timeout=timeout)


def _ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def _text(path):
    return path.read_text() if path.is_file() else ''


def _json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def searched(tiny_coco, tmp_path_factory):
    """One uninterrupted search (seed 1); its folder and log."""
    work = tmp_path_factory.mktemp('search_a')
    log = _ok(_search(tiny_coco, work))
    return work, log


def _space():
    from mmengine.config import Config
    return MobileNetV2SearchSpace.from_config(Config.fromfile(CFG).search.space.to_dict())


@pytest.mark.slow
def test_search_writes_every_output(searched, tiny_coco):
    work, log = searched
    out = osp.join(work, 'search')
    for name in OUTPUTS:
        assert osp.isfile(osp.join(out, name)), name
    # sandwich training: four sub-nets per iteration; evolution progress per generation
    assert 'loss_smallest' in log and 'loss_random1' in log
    assert 'generation 2/2 done' in log and 'front size' in log

    # the held-out split partitions the *training* images; val is not involved
    train = _json(osp.join(tiny_coco, 'annotations', 'instances_train.json'))
    held = _json(osp.join(out, 'split', 'heldout.json'))
    rest = _json(osp.join(out, 'split', 'search_train.json'))
    ids = {im['id'] for im in train['images']}
    held_ids, rest_ids = {im['id'] for im in held['images']}, {im['id'] for im in rest['images']}
    assert held_ids | rest_ids == ids and not held_ids & rest_ids and len(held_ids) == 3

    pareto = _json(osp.join(out, 'pareto.json'))
    summary = _json(osp.join(out, 'search_summary.json'))
    front = pareto['front']
    seed = pareto['reference']['metrics']
    assert pareto['reference']['label'] == 'seed' and 'bbox_mAP' in seed
    # choice rule: the highest held-out AP among feasible front members (ties: fewer
    # FLOPs), or the costliest member the paired test cannot tell from it
    feasible = [r for r in front if r['violation'] <= 0]
    best = min(feasible, key=lambda r: (-r['metrics']['bbox_mAP'], r['metrics']['flops']))
    assert summary['best_scored']['candidate'] == best['candidate']
    chosen = [r for r in front if r['chosen']]
    assert len(chosen) == 1 and pareto['chosen']['candidate'] == chosen[0]['candidate']
    costlier = sorted((r for r in feasible if r['metrics']['flops'] > best['metrics']['flops']),
                      key=lambda r: -r['metrics']['flops'])
    verdicts = re.findall(r'search: choice: .* at ([\d.]+) MFLOPs .*: (tied|not tied)', log)
    tried = costlier[:len(verdicts)]
    assert [f'{r["metrics"]["flops"] / 1e6:.1f}' for r in tried] == [v[0] for v in verdicts]
    if chosen[0]['candidate'] == best['candidate']:
        assert [v[1] for v in verdicts] == ['not tied'] * len(costlier)
    else:
        assert [v[1] for v in verdicts] == ['not tied'] * (len(tried) - 1) + ['tied']
        assert chosen[0]['candidate'] == tried[-1]['candidate']
    # default constraint: FLOPs <= the seed's
    assert chosen[0]['metrics']['flops'] <= seed['flops']
    state = _json(osp.join(out, 'search_state.json'))
    seed_gene = _space().encode(_space().seed_arch())
    assert seed_gene in [r['candidate'] for r in state['records']]  # seed was scored
    assert len(state['records']) <= 4 + 2 * 4 and state['generation'] == 2

    space = _space()
    arch = load_arch_yaml(osp.join(out, 'chosen.yaml'), space)
    assert arch == space.decode(chosen[0]['candidate']) == summary['chosen']['arch']
    metrics = chosen[0]['metrics']
    for key in ('bbox_mAP', 'flops', 'params', 'latency_ms'):
        assert key in metrics

    check = _json(osp.join(out, 'latency_check.json'))
    names = [m['name'] for m in check['models']]
    assert len(names) == 4 and names[0] == 'seed'  # distinct archs (chosen may be the seed)
    assert all(m['predicted_ms'] > 0 and m['measured_ms'] > 0 for m in check['models'])
    # the reported rank correlation is scipy's on the reported latencies (None: a tie-only
    # ranking, which scipy reports as nan)
    want = spearmanr([m['predicted_ms'] for m in check['models']],
                     [m['measured_ms'] for m in check['models']]).statistic
    assert (check['spearman'] is None and math.isnan(want)) or \
        check['spearman'] == pytest.approx(want, abs=1e-9)


@pytest.mark.slow
def test_exported_subnet_scores_the_same_and_fine_tunes(searched, tiny_coco, tmp_path):
    work, _ = searched
    out = osp.join(work, 'search')
    summary = _json(osp.join(out, 'search_summary.json'))
    heldout = osp.join(out, 'split', 'heldout.json')
    assert load_arch_yaml(osp.join(out, 'seed_arch.yaml'), _space()) == _space().seed_arch()
    # each standalone exported detector (the chosen arch; the seed arch with the supernet's
    # weights) gives on the held-out split the AP the search stored for it
    for name, stored in (('chosen', summary['chosen']['metrics']),
                         ('seed_arch', summary['seed_arch']['metrics'])):
        proc = run_tool(['tools/test.py', osp.join(out, f'{name}.py'),
                         osp.join(out, f'{name}.pth'), '--work-dir', str(tmp_path / name),
                         '--cfg-options', *tiny_data_options(tiny_coco),
                         f'test_dataloader.dataset.ann_file={heldout}',
                         'test_dataloader.dataset.data_prefix.img=train/',
                         f'test_evaluator.ann_file={heldout}'])
        _ok(proc)
        got = _json(str(tmp_path / name / 'test_metrics.json'))
        got = {k.split('/')[-1]: v for k, v in got.items()}
        for key in ('bbox_mAP', 'bbox_mAP_50'):
            assert got[key] == pytest.approx(stored[key], abs=1e-3), (name, key, got)

    proc = run_tool(['tools/train.py', osp.join(out, 'chosen.py'), '--work-dir',
                     str(tmp_path / 'ft'), '--cfg-options', *tiny_data_options(tiny_coco)])
    log = _ok(proc)
    assert f"Load checkpoint from {osp.join(out, 'chosen.pth')}" in log
    assert osp.isfile(tmp_path / 'ft' / 'epoch_1.pth')


@pytest.mark.slow
def test_kill_9_during_evolution_then_resume_equals_uninterrupted(searched, tiny_coco,
                                                                   tmp_path):
    work_a, _ = searched
    work_b = tmp_path / 'b'
    # pin A's latency table (search.latency.table): measurements are the one
    # non-deterministic input, so a pinned table makes same-seed searches identical
    pinned = f"search.latency.table={osp.join(work_a, 'search', 'latency_table.json')}"
    state_file = work_b / 'search' / 'search_state.json'
    kill_9_when(_search_args(tiny_coco, work_b, '--cfg-options', pinned),
                lambda: state_file.is_file() and _json(state_file)['generation'] >= 1,
                tmp_path / 'killed.log')
    assert _json(state_file)['generation'] == 1  # killed during generation 2 of 2
    assert not osp.exists(work_b / 'search' / 'latency_table.json')  # the pinned one is used
    log = _ok(_search(tiny_coco, work_b, '--resume', '--cfg-options', pinned))
    assert 'supernet already trained' in log and 'resumed from' in log
    a = _json(osp.join(work_a, 'search', 'search_state.json'))
    b = _json(state_file)
    assert b['generation'] == a['generation'] == 2
    assert b['population'] == a['population']
    assert b['records'] == a['records']
    pa = _json(osp.join(work_a, 'search', 'pareto.json'))
    pb = _json(work_b / 'search' / 'pareto.json')
    assert pa['front'] == pb['front'] and pa['chosen'] == pb['chosen']
    assert open(osp.join(work_a, 'search', 'chosen.yaml')).read() == \
        open(work_b / 'search' / 'chosen.yaml').read()


@pytest.mark.slow
def test_kill_9_during_supernet_training_then_resume_continues(searched, tiny_coco, tmp_path):
    work_a, _ = searched
    work = tmp_path / 'more'
    shutil.copytree(work_a, work)
    supernet = work / 'search' / 'supernet'
    longer = ('--resume', '--cfg-options', 'search.supernet.max_epochs=3')
    kill_9_when(_search_args(tiny_coco, work, *longer),
                lambda: 'epoch_2.pth' in _text(supernet / 'last_checkpoint'),
                tmp_path / 'killed.log')  # during epoch 3 (epoch 2 is saved)
    assert not (supernet / 'epoch_3.pth').exists()
    log = _ok(_search(tiny_coco, work, *longer))
    assert 'resumed epoch: 2' in log and 'Epoch(train) [3][5/5]' in log
    assert (supernet / 'epoch_3.pth').is_file()


@pytest.mark.slow
def test_corrupt_resume_files_fail_clearly(searched, tiny_coco, tmp_path):
    work_a, _ = searched
    work = tmp_path / 'c'
    shutil.copytree(work_a, work)
    state = work / 'search' / 'search_state.json'
    state.write_text(state.read_text()[:200])
    proc = _search(tiny_coco, work, '--resume')
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'corrupt or truncated' in proc.stderr and 'search_state.json' in proc.stderr
    ckpt = work / 'search' / 'supernet' / 'epoch_1.pth'
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    proc = _search(tiny_coco, work, '--resume')
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'epoch_1.pth cannot be read' in proc.stderr


@pytest.mark.slow
def test_torchrun_two_process_search(tiny_coco, tmp_path):
    proc = run_tool(['-m', 'torch.distributed.run', '--nproc_per_node=2',
                     '--master_port=29547', 'tools/search.py', CFG, '--launcher', 'pytorch',
                     '--work-dir', str(tmp_path), '--cfg-options',
                     *tiny_data_options(tiny_coco)], timeout=900)
    log = _ok(proc)
    assert 'Distributed training: True' in log
    # 9 search-train images, batch 2 per process, 2 processes -> 3 iterations
    assert 'Epoch(train) [1][3/3]' in log
    out = tmp_path / 'search'
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    pareto = _json(out / 'pareto.json')
    state = _json(out / 'search_state.json')
    assert state['generation'] == 2
    # candidates were scored once each (split over the two ranks, gathered on both)
    assert len({tuple(r['candidate']) for r in state['records']}) == len(state['records'])
    assert sum(r['chosen'] for r in pareto['front']) == 1
    load_arch_yaml(str(out / 'chosen.yaml'), _space())


def _fails(tiny_coco, tmp_path, *options, config=CFG, new_keys=False):
    args = ['tools/search.py', config, '--work-dir', str(tmp_path)]
    if new_keys:
        args.append('--allow-new-keys')
    proc = run_tool(args + ['--cfg-options', *tiny_data_options(tiny_coco), *options])
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    return proc.stderr


def test_bad_input_gives_clear_errors(tiny_coco, tmp_path):
    err = _fails(tiny_coco, tmp_path, 'search.space.stages.1.op=dwconv', new_keys=True)
    assert "stages[1].op: unknown op 'dwconv'" in err
    err = _fails(tiny_coco, tmp_path, 'search.space.stages.1.widths=[16,32]')
    assert 'seed architecture does not fit the search space' in err and '24' in err
    err = _fails(tiny_coco, tmp_path, config='tests/configs/retinanet_tiny.py')
    assert 'no "search" section' in err
    assert not (tmp_path / 'search').exists()  # refused before the first folder
    err = _fails(tiny_coco, tmp_path, 'search.constraints=[flops<=1000]')
    assert 'no candidate can meet flops <= 1000' in err and 'cheapest' in err
    assert not (tmp_path / 'search').exists()  # its split and latency table removed again
    (tmp_path / 'search').mkdir()
    _fails(tiny_coco, tmp_path, 'search.constraints=[flops<=1000]')
    assert (tmp_path / 'search').is_dir()  # a folder that was there before stays


@pytest.mark.slow
def test_resnet_seed_search_exports_a_resnet_that_fine_tunes(tiny_coco, tmp_path):
    """The same pipeline around a ResNet-18 seed (random weights stand in for a pretrained
    file): widths, depths and block ops searched, an AdaptedResNet exported and fine-tuned."""
    import torch
    from mmdet.models.backbones import ResNet
    from mmengine.config import Config

    from detnas.nas.families import bind_family
    torch.manual_seed(0)
    seed_file = tmp_path / 'r18.pth'
    torch.save(ResNet(depth=18).state_dict(), seed_file)
    config = 'tests/configs/retinanet_r18_search_tiny.py'
    log = _ok(run_tool(['tools/search.py', config, '--work-dir', str(tmp_path / 'w'),
                        '--cfg-options', *tiny_data_options(tiny_coco),
                        f'model.backbone.init_cfg.checkpoint=detnas://{seed_file}']))
    assert 'generation 2/2 done' in log
    out = tmp_path / 'w' / 'search'
    exported = Config.fromfile(str(out / 'chosen.py'))
    assert exported.model.backbone.type == 'AdaptedResNet'
    supernet = dict(type='ElasticResNet', seed_depth=18,
                    search_space=Config.fromfile(config).search.space.to_dict())
    space = bind_family(supernet).space
    chosen = load_arch_yaml(str(out / 'chosen.yaml'), space)
    assert exported.model.neck.in_channels == [s['width'] for s in chosen['stages'][1:]]
    assert load_arch_yaml(str(out / 'seed_arch.yaml'), space) == space.seed_arch()
    log = _ok(run_tool(['tools/train.py', str(out / 'chosen.py'), '--work-dir',
                        str(tmp_path / 'ft'), '--cfg-options', *tiny_data_options(tiny_coco)]))
    assert f"Load checkpoint from {out / 'chosen.pth'}" in log
    assert (tmp_path / 'ft' / 'epoch_1.pth').is_file()
