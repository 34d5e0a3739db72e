"""End-to-end runs of tools/train.py, tools/test.py and torchrun on a tiny data set."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from helpers import ROOT, run_tool, tiny_data_options

from detnas.evaluation import evaluate_detections

CFG = 'tests/configs/retinanet_tiny.py'


@pytest.fixture(scope='module')
def trained(tiny_coco, tmp_path_factory):
    """One epoch of the tiny RetinaNet from the ImageNet seed."""
    work = str(tmp_path_factory.mktemp('train'))
    proc = run_tool(['tools/train.py', CFG, '--work-dir', work, '--cfg-options',
                     *tiny_data_options(tiny_coco)])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return work, proc.stdout + proc.stderr


@pytest.mark.slow
def test_train_loads_the_seed_and_saves_a_checkpoint(trained):
    work, log = trained
    assert 'seed detnas://mobilenet_v2_imagenet matches backbone' in log
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    ckpt = torch.load(osp.join(work, 'epoch_1.pth'), map_location='cpu', weights_only=False)
    assert ckpt['meta']['epoch'] == 1


@pytest.mark.slow
def test_test_tool_and_eval_tool_agree(trained, tiny_coco, tmp_path):
    work, _ = trained
    prefix = str(tmp_path / 'dets')
    proc = run_tool(['tools/test.py', CFG, osp.join(work, 'epoch_1.pth'), '--work-dir',
                     str(tmp_path), '--json-prefix', prefix, '--out', str(tmp_path / 'p.pkl'),
                     '--show-dir', 'shown', '--cfg-options', *tiny_data_options(tiny_coco)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    runner_map = json.load(open(tmp_path / 'test_metrics.json'))['coco/bbox_mAP']
    ours = evaluate_detections(osp.join(tiny_coco, 'annotations', 'instances_val.json'),
                               prefix + '.bbox.json')
    assert abs(ours.stats['AP'] - runner_map) < 1e-3  # mmdet rounds to 3 decimals
    # --out: the same detections as the json, per image; --show-dir: one drawing per image
    import pickle
    with open(tmp_path / 'p.pkl', 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 6
    assert sum(len(r['pred_instances']['scores']) for r in dumped) == len(
        json.load(open(prefix + '.bbox.json')))
    assert len(glob.glob(str(tmp_path / '*' / 'shown' / '*.jpg'))) == 6


@pytest.mark.slow
def test_resume_continues_from_the_last_epoch(trained, tiny_coco, tmp_path):
    work, _ = trained
    proc = run_tool(['tools/train.py', CFG, '--work-dir', work, '--resume', '--cfg-options',
                     'train_cfg.max_epochs=2', *tiny_data_options(tiny_coco)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'resumed epoch: 1' in proc.stdout + proc.stderr
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))


@pytest.mark.slow
def test_dist_train_script_runs_two_processes(tiny_coco, tmp_path):
    # tools/dist_train.sh as the README gives it (torchrun under the interpreter in PYTHON),
    # called from another folder with paths relative to it
    (tmp_path / 'mine.py').write_text(f"_base_ = '{osp.join(ROOT, CFG)}'\n")
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools/dist_train.sh'), 'mine.py', '2',
                           '--work-dir', 'work', '--cfg-options', 'train_cfg.val_interval=5',
                           *tiny_data_options(tiny_coco)], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHON=sys.executable, PORT='29531',
                                   OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1'))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    # 12 images, batch 2 per process, 2 processes -> 3 iterations per epoch
    assert 'Epoch(train) [1][3/3]' in log
    assert osp.isfile(osp.join(str(tmp_path), 'work', 'epoch_1.pth'))


def _fails_with(args, *needles):
    proc = run_tool(args)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    first = proc.stderr.strip().splitlines()[-1]
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr[-2000:])
    return first


def test_missing_data_dir_says_which_command_makes_it(tmp_path):
    _fails_with(['tools/train.py', CFG, '--work-dir', str(tmp_path), '--cfg-options',
                 *tiny_data_options(str(tmp_path / 'nowhere'))],
                'does not exist',
                f"tools/dataset/make_demo_coco.py --out {tmp_path / 'nowhere'}")


def test_misspelled_override_key_suggests_the_right_one(tmp_path):
    _fails_with(['tools/train.py', CFG, '--cfg-options', 'train_cfg.max_epoch=3'],
                "'max_epoch' is not a key of train_cfg", 'did you mean max_epochs')


def test_unknown_key_in_config_names_class_and_key(tiny_coco, tmp_path):
    cfg = tmp_path / 'typo.py'
    cfg.write_text(f"_base_ = '{osp.abspath(CFG)}'\nmodel = dict(neck=dict(out_chanels=64))\n")
    _fails_with(['tools/train.py', str(cfg), '--work-dir', str(tmp_path), '--cfg-options',
                 *tiny_data_options(tiny_coco)],
                "unknown config key 'out_chanels'", "'FPN'", str(cfg))


def test_test_tool_rejects_missing_and_mismatched_checkpoints(tiny_coco, tmp_path):
    _fails_with(['tools/test.py', CFG, str(tmp_path / 'none.pth')], 'none.pth',
                'does not exist')
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {'backbone.conv1.conv.weight': torch.zeros(1)}}, bad)
    _fails_with(['tools/test.py', CFG, str(bad), '--work-dir', str(tmp_path), '--cfg-options',
                 *tiny_data_options(tiny_coco)], 'bad.pth', 'missing from the checkpoint',
                'backbone.conv1.conv.weight: model (32, 3, 3, 3) vs checkpoint (1,)')


def test_seed_that_does_not_fit_the_backbone_stops_training(tiny_coco, tmp_path):
    _fails_with(['tools/train.py', CFG, '--work-dir', str(tmp_path), '--allow-new-keys',
                 '--cfg-options', 'model.backbone.widen_factor=0.5',
                 'model.neck.in_channels=[16,48,160]',
                 *tiny_data_options(tiny_coco)],
                'seed detnas://mobilenet_v2_imagenet does not fit backbone',
                'shape mismatch')
