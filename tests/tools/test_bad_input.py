"""Bad input, tried as a user would, through the tools: each case exits 2 with one message
that names the file or key (and the fix), and a refused run leaves no folder behind.

Here (issue 22's matrix):
* data, refused by tools/train.py before the runner (DATA_CASES): a box under 1 px, category
  ids off by one, a training set without boxes, a val set without boxes, no ``images`` key,
  no ``categories`` key, a top level that is a list, an image listed but missing, a zero-byte
  image, a truncated JPEG and garbage bytes named .jpg; dropping invalid boxes only on
  request; grayscale and RGBA PNGs and images without boxes train (and validate);
* checkpoints: ``--resume`` with nothing to resume, a truncated ``load_from`` / ``--resume``
  file, a missing ``load_from``; seeds (SEED_CASES and the plain-path test): a missing plain
  path, one that does not fit, a missing ``detnas://`` seed, a seed of another family, a dict
  of no known layout, a truncated seed (plain path and ``detnas://``); tools/test.py with a
  truncated checkpoint or one of another config, the same two in
  tools/analysis/benchmark.py, a truncated seed in tools/analysis/map_weights.py; a seed of
  another family and a truncated one refused by tools/search.py before it writes anything;
* config: typos in ``--cfg-options`` (a nested and a top-level key), a missing config, a
  syntax error, a near-miss top-level key in a config file (warned), ``--amp`` without CUDA;
* tools/eval_coco.py with a 0-byte, malformed or score-less detections file;
* runs: a second run on a busy work dir; ``kill -9`` mid-epoch then ``--resume`` (at most the
  epoch in progress is lost; the killed run's seed, so the same data order).

Elsewhere: a misspelt key inside a config file, a missing data root and a seed too narrow for
the backbone in tests/tools/test_train_test.py; the search's cases (impossible constraint,
unknown op, seed outside the space, no search section, truncated search state and supernet
checkpoint, resume equal to an uninterrupted search) in tests/tools/test_search_tool.py; a
constraint key typo or unknown metric in tests/nas/pipeline/test_cost.py; a search state
that is truncated, ``{}``, a list or holds an out-of-range gene, and resume after a kill
during evolution (an exception stands in for it) in
tests/nas/evolution/test_search_state.py; the other detections-file cases of
tools/eval_coco.py (a dict instead of a list, NaN/inf, unknown categories or image ids, an
empty list, no ``info``) in tests/tools/test_eval_coco.py; the annotation-file and image
cases of the dataset itself in tests/datasets/test_validated_coco.py and
tests/datasets/test_image_check.py.
"""
import json
import os
import os.path as osp
import re
import shutil

import pytest
import torch
from helpers import run_tool, tiny_data_options

CFG = 'tests/configs/retinanet_tiny.py'
SEARCH_CFG = 'tests/configs/retinanet_mbv2_search_tiny.py'


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


def _images_corrupt(data, root):
    cut = root / 'train' / data['images'][1]['file_name']
    cut.write_bytes(cut.read_bytes()[:cut.stat().st_size // 2])  # an interrupted copy
    (root / 'train' / data['images'][4]['file_name']).write_bytes(os.urandom(4000))


def _no_categories(data, root):
    del data['categories']


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
    'truncated and garbage jpegs': (_images_corrupt, 'train', [
        '2 image file(s)', 'cannot be decoded (truncated or not an image)',
        'train_00001.jpg (OSError: image file is truncated', 'train_00004.jpg (not an image',
        'remove them from the annotation file']),
    'no categories key': (_no_categories, 'train', ["missing key(s) ['categories']"]),
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


def _png_and_boxless_images(data, root, split):
    """Image 0 becomes a grayscale PNG, image 1 an RGBA PNG; images 2 and 3 lose their
    boxes."""
    import numpy as np
    from PIL import Image
    for index, mode in ((0, 'L'), (1, 'RGBA')):
        info = data['images'][index]
        jpg = root / split / info['file_name']
        img = Image.open(jpg).convert(mode)
        assert np.asarray(img).ndim == (2 if mode == 'L' else 3)
        info['file_name'] = jpg.stem + '.png'
        img.save(root / split / info['file_name'])
        jpg.unlink()
    boxless = {data['images'][2]['id'], data['images'][3]['id']}
    data['annotations'] = [a for a in data['annotations'] if a['image_id'] not in boxless]


def test_grayscale_and_rgba_pngs_and_images_without_boxes_train(tiny_coco, tmp_path):
    data = _copy_data(tiny_coco, tmp_path, lambda d, r: _png_and_boxless_images(d, r, 'train'))
    path = osp.join(data, 'annotations', 'instances_val.json')
    val = json.load(open(path))
    _png_and_boxless_images(val, tmp_path / 'data', 'val')
    json.dump(val, open(path, 'w'))
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options',
                     *tiny_data_options(data),  # keep the boxless images in training
                     'train_dataloader.dataset.filter_cfg.filter_empty_gt=False'])
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Epoch(train) [1][6/6]' in log  # all 12 images, the 2 boxless ones included
    assert 'Epoch(val) [1][3/3]' in log and 'coco/bbox_mAP' in log
    assert (work / 'epoch_1.pth').is_file()


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
             ['cannot read checkpoint', 'half.pth'], work)


def test_plain_path_seeds_are_checked_like_detnas_seeds(tiny_coco, tmp_path):
    opts = tiny_data_options(tiny_coco)
    work = tmp_path / 'work'
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options', *opts,
              f'model.backbone.init_cfg.checkpoint={tmp_path}/seed.pth'],
             ['model.backbone.init_cfg checkpoint', 'seed.pth', 'does not exist'], work)
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, tmp_path / 'resnet.pth')
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options', *opts,
              f'model.backbone.init_cfg.checkpoint={tmp_path}/resnet.pth'],
             ['does not fit model.backbone (MobileNetV2)', 'random weights',
              'missing from the checkpoint'], work)
    _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options', *opts,
              'model.backbone.init_cfg.checkpoint=detnas://no_such_seed'],
             ['no_such_seed', 'does not exist', 'detnas://mobilenet_v2_imagenet'], work)


def _seed_files(folder):
    """A ResNet-18 state dict (another family), a dict of no known layout, a cut file."""
    from mmdet.models.backbones import ResNet
    torch.save(ResNet(depth=18).state_dict(), folder / 'r18.pth')
    torch.save({'encoder.weight': torch.zeros(2)}, folder / 'foreign.pth')
    return dict(family=str(folder / 'r18.pth'), layout=str(folder / 'foreign.pth'),
                cut=_truncated(folder / 'half.pth'))


SEED_CASES = {  # model.backbone.init_cfg.checkpoint -> the message's key words
    'seed of another family': ('detnas://{family}', [
        'seed detnas://', 'r18.pth does not fit backbone (MobileNetV2)',
        "missing from the checkpoint: ['conv1.conv.weight'", 'Use a seed of the same family']),
    'seed dict of unknown layout': ('detnas://{layout}', [
        'seed detnas://', 'foreign.pth: cannot tell the layout', 'encoder.weight']),
    'truncated detnas:// seed': ('detnas://{cut}', [
        'cannot read checkpoint', 'half.pth', 'download or copy it again']),
    'truncated plain-path seed': ('{cut}', [
        'model.backbone.init_cfg checkpoint', 'half.pth', 'cannot be read']),
}


SEED_RUNS = ([('tools/train.py', CFG, case) for case in SEED_CASES] +
             [('tools/search.py', SEARCH_CFG, case)
              for case in ('seed of another family', 'truncated plain-path seed')])


@pytest.mark.parametrize('tool,config,case', SEED_RUNS)
def test_seeds_that_cannot_initialise_the_backbone_are_refused(tiny_coco, tmp_path, tool,
                                                                config, case):
    checkpoint, needles = SEED_CASES[case]
    checkpoint = checkpoint.format(**_seed_files(tmp_path))
    work = tmp_path / 'work'
    _refused([tool, config, '--work-dir', str(work), '--cfg-options',
              *tiny_data_options(tiny_coco), f'model.backbone.init_cfg.checkpoint={checkpoint}'],
             needles, work)


def test_checkpoints_of_another_config_or_truncated_in_test_benchmark_and_map_weights(
        tiny_coco, tmp_path):
    from mmengine.config import Config

    from detnas.utils.config import build_detector
    cfg = Config.fromfile(CFG)
    cfg.model.bbox_head.num_classes = 80  # a COCO model given to the 6-class demo config
    other = tmp_path / 'coco_model.pth'
    torch.save(dict(state_dict=build_detector(cfg).state_dict(), meta={}), other)
    bad = _truncated(tmp_path / 'half.pth')
    work = tmp_path / 'work'
    mismatch = ['coco_model.pth', f"does not fit the model of '{CFG}'",
                '2 shape mismatch(es)', 'bbox_head.retina_cls.weight: model (54, 64, 3, 3) vs '
                'checkpoint (720, 64, 3, 3)']
    _refused(['tools/test.py', CFG, str(other), '--work-dir', str(work), '--cfg-options',
              *tiny_data_options(tiny_coco)], mismatch, work)
    _refused(['tools/analysis/benchmark.py', CFG, str(other), '--iters', '1'], mismatch)
    fits = tmp_path / 'fits.pth'  # BN's num_batches_tracked may be absent
    torch.save(dict(state_dict={k: v for k, v in build_detector(CFG).state_dict().items()
                                if not k.endswith('num_batches_tracked')}), fits)
    proc = run_tool(['tools/analysis/benchmark.py', CFG, str(fits), '--iters', '1',
                     '--warmup', '0', '--shape', '64', '64', '--json'])
    assert proc.returncode == 0 and json.loads(proc.stdout.splitlines()[-1])['fps'] > 0, \
        proc.stderr[-2000:]
    _refused(['tools/analysis/benchmark.py', CFG, bad, '--iters', '1'],
             ['cannot read checkpoint', 'half.pth'])
    out = tmp_path / 'mapped.pth'
    _refused(['tools/analysis/map_weights.py', CFG, '--seed', bad, '--out', str(out)],
             ['cannot read checkpoint', 'half.pth', 'download or copy it again'], out)


@pytest.mark.parametrize('content,needles', [
    ('', ['not valid json', 'char 0']),  # a 0-byte file
    ('[{"image_id": 1, "category_id"', ['not valid json']),
    ('[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]',  # no score
     ['is not a COCO detections file', 'image_id, category_id, bbox and score']),
])
def test_eval_coco_names_unreadable_detection_files(tiny_coco, tmp_path, content, needles):
    """The other detections-file cases are in tests/tools/test_eval_coco.py."""
    dets = tmp_path / 'dets.bbox.json'
    dets.write_text(content)
    _refused(['tools/eval_coco.py', osp.join(tiny_coco, 'annotations', 'instances_val.json'),
              str(dets)], [str(dets), *needles])
    assert os.listdir(tmp_path) == ['dets.bbox.json']  # no metrics written


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


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_loses_at_most_that_epoch(tiny_coco, tmp_path):
    from helpers import kill_9_when

    from detnas.utils.lock import LOCK_NAME
    work = tmp_path / 'work'
    args = ['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options',
            *tiny_data_options(tiny_coco), 'train_cfg.max_epochs=3', 'train_cfg.val_interval=3']
    # during epoch 2 (epoch 1 is saved)
    kill_9_when(args, (work / 'last_checkpoint').is_file, tmp_path / 'first.log')
    assert (work / LOCK_NAME).is_file()  # left behind by the killed run
    done = sorted(p for p in os.listdir(work) if p.startswith('epoch_'))
    resumed = run_tool([*args, '--resume'])
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert f'resumed epoch: {len(done)}' in log and len(done) in (1, 2), done
    assert 'Epoch(train) [3][6/6]' in log and (work / 'epoch_3.pth').is_file()
    assert 'coco/bbox_mAP' in log and not (work / LOCK_NAME).exists()
    # the config sets no seed: the resumed run takes the killed run's (a new one would
    # shuffle the data in another order: mmengine builds the loader before it resumes)
    seeds = [re.findall(r'^\s+seed: (\d+)$', text, re.M)
             for text in ((tmp_path / 'first.log').read_text(), log)]
    assert len(seeds[0]) == 1 and seeds[0] == seeds[1], seeds


def test_a_second_run_on_a_busy_work_dir_is_refused(tiny_coco, tmp_path):
    from detnas.utils.lock import WorkDirLock
    work = tmp_path / 'work'
    with WorkDirLock(str(work), 'training of another config'):
        proc = _refused(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options',
                         *tiny_data_options(tiny_coco)],
                        ['is in use by training of another config', f'pid {os.getpid()}'])
    assert 'epoch_1.pth' not in os.listdir(work) and proc.returncode == 2
