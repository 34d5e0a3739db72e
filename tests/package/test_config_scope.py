"""Configs ship inside the package: ``_base_ = 'detnas::...'`` resolves from any directory,
in the checkout's editable install and in a built wheel."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from helpers import ROOT, tiny_data_options

BASE = 'baselines/retinanet_mbv2_fpn_demo.py'


def _shipped(folder: str) -> set:
    return {osp.relpath(osp.join(d, f), folder) for d, _, files in os.walk(folder)
            for f in files if f.endswith(('.py', '.md'))}


def test_the_scope_names_the_checkouts_configs(tmp_path):
    from detnas.utils.config_scope import configs_dir
    from mmengine.config import Config
    assert _shipped(configs_dir()) == _shipped(osp.join(ROOT, 'configs'))
    scoped = Config.fromfile(_write_config(str(tmp_path), tuning=''))
    local = Config.fromfile(osp.join(ROOT, 'configs', BASE))
    # the same model, except for the scope mmengine stamps on an external base
    assert scoped.model.to_dict() == dict(local.model.to_dict(), _scope_='detnas')


def _write_config(folder: str, tuning: str = 'train_cfg = dict(max_epochs=1)\n'
                  'model = dict(test_cfg=dict(score_thr=0.0))\n') -> str:
    """A user's config in ``folder`` (mine.py) on a ``detnas::`` base, plus ``tuning``."""
    path = osp.join(folder, 'mine.py')
    with open(path, 'w') as f:
        f.write(f"_base_ = 'detnas::{BASE}'\n{tuning}")
    return path


@pytest.mark.slow
def test_a_scoped_config_trains_from_another_directory(tiny_coco, tmp_path):
    config = _write_config(str(tmp_path))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, '-m', 'detnas.tools', 'train', osp.basename(config), '--work-dir',
         'work', '--cfg-options', *tiny_data_options(tiny_coco),
         'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
         'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False'],
        cwd=str(tmp_path), capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
    assert 'coco/bbox_mAP' in proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_wheel_carries_the_configs(tmp_path):
    """A pure-Python wheel (DETNAS_WITH_OP=0), unpacked into a folder outside the checkout:
    its ``detnas::`` configs are its own copies, and they resolve."""
    env = dict(os.environ, DETNAS_WITH_OP='0', OMP_NUM_THREADS='1')
    wheels, target = tmp_path / 'wheels', tmp_path / 'site'
    pip = [sys.executable, '-m', 'pip', '-q']
    for cmd in ([*pip, 'wheel', '--no-deps', '--no-build-isolation', '-w', str(wheels), ROOT],
                [*pip, 'install', '--no-deps', '--no-index', '--target', str(target)]):
        wheel = [str(w) for w in wheels.glob('detnas-*.whl')] if 'install' in cmd else []
        proc = subprocess.run(cmd + wheel, capture_output=True, text=True, env=env,
                              cwd=str(tmp_path))
        assert proc.returncode == 0, proc.stderr[-3000:]
    probe = ('import detnas, os.path as osp\nfrom mmengine.config import Config\n'
             'from detnas.utils.config_scope import configs_dir\n'
             "cfg = Config.fromfile('mine.py')\n"
             "print(osp.realpath(detnas.__file__), osp.realpath(configs_dir()), "
             "cfg.model.backbone.type, cfg.train_cfg.max_epochs)\n")
    _write_config(str(tmp_path))
    proc = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          cwd=str(tmp_path), env=dict(env, PYTHONPATH=str(target)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    module, configs, backbone, epochs = proc.stdout.split()[-4:]
    assert module.startswith(str(target)) and configs.startswith(str(target))
    assert not osp.islink(osp.join(str(target), 'detnas', '.mim', 'configs'))
    assert _shipped(configs) == _shipped(osp.join(ROOT, 'configs'))
    from mmengine.config import Config
    local = Config.fromfile(osp.join(ROOT, 'configs', BASE))
    assert (backbone, epochs) == (local.model.backbone.type, '1')
