"""Checks that refuse a run before the Runner starts, and the work-dir lock."""
import json
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from detnas.utils.checkpoint import CheckpointMismatchError
from detnas.utils.errors import DetnasInputError
from detnas.utils.lock import LOCK_NAME, WorkDirLock
from detnas.utils.preflight import (check_checkpoint_file, check_pretrained_inits,
                                    pretrained_inits, resume_checkpoint,
                                    warn_unknown_top_level_keys)


def test_resume_needs_a_checkpoint(tmp_path):
    with pytest.raises(DetnasInputError, match='no checkpoint in .* to resume; drop --resume'):
        resume_checkpoint(str(tmp_path))
    good = tmp_path / 'epoch_1.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2))), good)
    (tmp_path / 'last_checkpoint').write_text(str(good))
    assert resume_checkpoint(str(tmp_path)) == str(good)
    good.unlink()
    with pytest.raises(DetnasInputError, match='does not exist'):
        resume_checkpoint(str(tmp_path))


def test_truncated_checkpoints_are_named(tmp_path):
    path = tmp_path / 'model.pth'
    torch.save(dict(state_dict={f'w{i}': torch.randn(64, 64) for i in range(4)}), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(DetnasInputError, match=r"load_from checkpoint '.*model.pth' cannot be "
                                               r'read .*download or copy it again'):
        check_checkpoint_file(str(path), 'load_from')
    check_checkpoint_file('https://example.com/x.pth', 'load_from')  # left to its loader


def _detector_cfg(checkpoint):
    """The tiny test RetinaNet (an mmdet MobileNetV2 backbone) with a plain-path seed."""
    cfg = Config.fromfile('tests/configs/retinanet_tiny.py')
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint)
    return cfg


def test_pretrained_paths_must_exist_and_fit(tmp_path):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    import detnas  # noqa: F401
    from detnas.models.backbones import AdaptedMobileNetV2
    init_default_scope('mmdet')  # AdaptedMobileNetV2 has mmdet's MobileNetV2 keys
    cfg = _detector_cfg(str(tmp_path / 'missing.pth'))
    assert [w for w, _ in pretrained_inits(cfg.model.to_dict())] == ['model.backbone']
    with pytest.raises(DetnasInputError, match=r'model.backbone.init_cfg.checkpoint .* does '
                                               'not exist'):
        check_pretrained_inits(cfg)
    fits = AdaptedMobileNetV2(out_indices=(2, 4, 6)).state_dict()
    fits['fc.weight'] = torch.zeros(10, 1280)  # an extra classifier is fine
    torch.save(fits, tmp_path / 'fits.pth')
    cfg = _detector_cfg(str(tmp_path / 'fits.pth'))
    model = MODELS.build(cfg.model)
    check_pretrained_inits(cfg, model)
    # a ResNet-style file: nothing of the MobileNetV2 would be loaded
    torch.save({'conv1.weight': torch.zeros(64, 3, 7, 7)}, tmp_path / 'wrong.pth')
    cfg = _detector_cfg(str(tmp_path / 'wrong.pth'))
    with pytest.raises(CheckpointMismatchError, match=r'random weights for:\n .* key\(s\) '
                                                      r'missing from the checkpoint'):
        check_pretrained_inits(cfg, MODELS.build(cfg.model))


def test_detnas_seeds_are_read_and_fitted_before_the_run(tmp_path):
    from mmdet.models.backbones import ResNet
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope

    import detnas  # noqa: F401
    init_default_scope('mmdet')
    cfg = _detector_cfg('detnas://mobilenet_v2_imagenet')
    check_pretrained_inits(cfg, MODELS.build(cfg.model))  # the bundled seed fits
    torch.save(ResNet(depth=18).state_dict(), tmp_path / 'r18.pth')
    cfg = _detector_cfg(f'detnas://{tmp_path}/r18.pth')
    with pytest.raises(CheckpointMismatchError, match=r'seed detnas://.*r18.pth does not fit '
                                                      r'backbone \(MobileNetV2\)'):
        check_pretrained_inits(cfg, MODELS.build(cfg.model))
    cfg.custom_hooks = [dict(type='SeedCheckHook', strict=False)]  # the hook's opt-out
    check_pretrained_inits(cfg, MODELS.build(cfg.model))
    torch.save({'encoder.weight': torch.zeros(2)}, tmp_path / 'foreign.pth')
    cfg = _detector_cfg(f'detnas://{tmp_path}/foreign.pth')
    with pytest.raises(DetnasInputError, match=r'foreign.pth: cannot tell the layout'):
        check_pretrained_inits(cfg)  # read even when load_from replaces the init


def test_near_misses_of_runner_keys_are_warned(tmp_path, capsys):
    MMLogger.get_instance('detnas_test_warn')
    warn_unknown_top_level_keys(Config(dict(train_cfgg=dict(max_epochs=1), my_note='x')),
                                'c.py')
    out = capsys.readouterr().out
    assert "top-level key 'train_cfgg' is not used by the runner; did you mean 'train_cfg'" \
        in out and 'my_note' not in out


def test_a_live_lock_refuses_a_second_run_and_a_stale_one_is_taken_over(tmp_path):
    with WorkDirLock(str(tmp_path), 'training of a.py'):
        holder = json.loads((tmp_path / LOCK_NAME).read_text())
        assert holder['pid'] == os.getpid()
        with pytest.raises(DetnasInputError, match=rf"in use by training of a.py \(pid "
                                                   rf"{os.getpid()} on"):
            WorkDirLock(str(tmp_path)).acquire()
    assert not (tmp_path / LOCK_NAME).exists()  # released
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True).stdout.strip()
    (tmp_path / LOCK_NAME).write_text(json.dumps(dict(pid=int(dead), host=os.uname().nodename,
                                                      started='then', what='a killed run')))
    lock = WorkDirLock(str(tmp_path), 'the next run')
    lock.acquire()  # the killed run's lock is stale: taken over
    assert json.loads((tmp_path / LOCK_NAME).read_text())['what'] == 'the next run'
    lock.release()
