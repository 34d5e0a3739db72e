"""Bad input, tried as a user would, through the tools: each case exits 2 with one message
that names the file or key (and the fix), and a refused training run leaves no folder.

The search's cases (impossible constraint, constraint typo, unknown op, seed outside the
space, corrupt search state, kill -9 and resume) are in tests/tools/test_search_tool.py;
the detections-file cases of tools/eval_coco.py in tests/tools/test_eval_coco.py; the
annotation-file cases of the dataset in tests/datasets/test_validated_coco.py.
"""
import json
import os
import os.path as osp
import shutil

import pytest
import torch
from helpers import run_tool, tiny_data_options

CFG = 'tests/configs/retinanet_tiny.py'


def _copy_data(tiny_coco, tmp_path, edit=None, split='train'):
    root = tmp_path / 'data'
    shutil.copytree(tiny_coco, root)
    if edit:
        path = root / 'annotations' / f'instances_{split}.json'
        data = json.loads(path.read_text())
        result = edit(data, root)
        path.write_text(result if isinstance(result, str) else json.dumps(data))
    return str(root)


def _zero_width(data, root):
    data['annotations'][0]['bbox'][2] = 0


def _category_off_by_one(data, root):
    for a in data['annotations']:
        a['category_id'] -= 1  # 0-based ids against 1-based categories


def _no_annotations(data, root):
    data['annotations'] = []


def _no_images_key(data, root):
    del data['images']


def _top_level_list(data, root):
    return json.dumps(data['annotations'])


def _image_missing(data, root):
    os.remove(root / 'train' / data['images'][3]['file_name'])


def _image_empty(data, root):
    open(root / 'train' / data['images'][2]['file_name'], 'w').close()


DATA_CASES = {
    'zero-width box': (_zero_width, 'train', ['1 box(es) would be dropped',
                                              'width or height below 1 px',
                                              'drop_invalid_boxes']),
    'category ids off by one': (_category_off_by_one, 'train', [
        'of a category_id not in categories', 'category_id 0', 'off by one']),
    'training set without boxes': (_no_annotations, 'train', ['0 usable boxes']),
    'val set without boxes': (_no_annotations, 'val', ['holds no box', 'allow_empty_gt']),
    'no images key': (_no_images_key, 'train', ["missing key(s) ['images']"]),
    'top level is a list': (_top_level_list, 'train', ['top level is a list']),
    'image listed but missing': (_image_missing, 'train', ['1 image(s)', 'missing']),
    'zero-byte image': (_image_empty, 'train', ['empty (0 bytes)']),
}


def _refused(args, needles, work_dir=None):
    proc = run_tool(args)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr[-2000:])
    if work_dir is not None:
        assert not osp.exists(work_dir), os.listdir(work_dir)  # nothing written half-way
    return proc


@pytest.mark.parametrize('case', list(DATA_CASES))
def test_bad_data_refuses_training_before_the_runner(tiny_coco, tmp_path, case):
    edit, split, needles = DATA_CASES[case]
    data = _copy_data(tiny_coco, tmp_path, edit, split)
    work = tmp_path / 'work'
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options',
              *tiny_data_options(data)], [f'instances_{split}.json', *needles], work)


def test_dropping_invalid_boxes_is_an_explicit_opt_in(tiny_coco, tmp_path):
    data = _copy_data(tiny_coco, tmp_path, _zero_width)
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options',
                     *tiny_data_options(data),
                     'train_dataloader.dataset.drop_invalid_boxes=True', '--allow-new-keys'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'drop_invalid_boxes=True: dropped' in proc.stdout + proc.stderr


def _truncated(path):
    torch.save(dict(state_dict={f'w{i}': torch.randn(64, 64) for i in range(4)}), path)
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    return str(path)


def test_checkpoint_problems_are_named_before_training(tiny_coco, tmp_path):
    opts = tiny_data_options(tiny_coco)
    work = tmp_path / 'work'
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--resume', '--cfg-options',
              *opts], ['no checkpoint in', 'to resume; drop --resume to start fresh'], work)
    bad = _truncated(tmp_path / 'half.pth')
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options', *opts,
              f'load_from={bad}'], ['load_from checkpoint', 'half.pth', 'cannot be read'],
             work)
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--resume', bad,
              '--cfg-options', *opts], ['--resume checkpoint', 'cannot be read'], work)
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options', *opts,
              f'load_from={tmp_path}/none.pth'], ['none.pth', 'does not exist'], work)
    _refused(['tools/test.py', CFG, bad, '--work-dir', str(work), '--cfg-options', *opts],
             ['cannot read checkpoint', 'half.pth'])


def test_plain_path_seeds_are_checked_like_detnas_seeds(tiny_coco, tmp_path):
    opts = tiny_data_options(tiny_coco)
    work = tmp_path / 'work'
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options', *opts,
              f'model.backbone.init_cfg.checkpoint={tmp_path}/seed.pth'],
             ['model.backbone.init_cfg.checkpoint', 'seed.pth', 'does not exist'], work)
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, tmp_path / 'resnet.pth')
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options', *opts,
              f'model.backbone.init_cfg.checkpoint={tmp_path}/resnet.pth'],
             ['does not fit model.backbone (MobileNetV2)', 'random weights',
              'missing from the checkpoint'], work)
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options', *opts,
              'model.backbone.init_cfg.checkpoint=detnas://no_such_seed'],
             ['no_such_seed', 'does not exist', 'detnas://mobilenet_v2_imagenet'])


@pytest.mark.parametrize('args,needles', [
    (['--cfg-options', 'train_cfg.max_epoch=3'], ["'max_epoch' is not a key of train_cfg",
                                                  'did you mean max_epochs']),
    (['--cfg-options', 'trian_cfg.max_epochs=3'], ["'trian_cfg' is not a key of <top level>",
                                                   'did you mean train_cfg']),
])
def test_override_typos_are_named(args, needles):
    _refused(['tools/train.py', CFG, *args], needles)


@pytest.mark.skipif(torch.cuda.is_available(), reason='AMP is refused only without CUDA')
def test_amp_without_a_gpu_is_refused_by_name(tmp_path):
    _refused(['tools/train.py', CFG, '--amp', '--work-dir', str(tmp_path / 'w')],
             ['--amp needs a CUDA device', 'without --amp'], tmp_path / 'w')


def test_config_file_problems(tmp_path):
    _refused(['tools/train.py', str(tmp_path / 'none.py')], ['none.py', 'does not exist'])
    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(\n')
    _refused(['tools/train.py', str(broken)], ['cannot parse config', 'broken.py'])


def test_a_near_miss_top_level_key_is_warned(tiny_coco, tmp_path):
    cfg = tmp_path / 'near.py'
    cfg.write_text(f"_base_ = '{osp.abspath(CFG)}'\ntrain_cfgg = dict(max_epochs=3)\n")
    proc = run_tool(['tools/train.py', str(cfg), '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', *tiny_data_options(tiny_coco)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "top-level key 'train_cfgg' is not used by the runner; did you mean 'train_cfg'" \
        in proc.stdout + proc.stderr


def test_a_second_run_on_a_busy_work_dir_is_refused(tiny_coco, tmp_path):
    from detnas.utils.lock import WorkDirLock
    work = tmp_path / 'work'
    with WorkDirLock(str(work), 'training of another config'):
        proc = _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options',
                         *tiny_data_options(tiny_coco)],
                        ['is in use by training of another config', f'pid {os.getpid()}'])
    assert 'epoch_1.pth' not in os.listdir(work) and proc.returncode == 2
