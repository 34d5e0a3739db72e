"""Checks a run's inputs before the Runner prints its environment, creates its log folder or
trains a single iteration: a refused run leaves nothing behind and says one thing.

* :func:`check_checkpoint_file` - a ``load_from`` / ``--resume`` / ``--checkpoint`` file
  exists and can be read (a truncated download fails here, not mid-way);
* :func:`resume_checkpoint` - ``--resume`` finds a checkpoint in the work dir;
* :func:`check_pretrained_inits` - every ``init_cfg=dict(type='Pretrained', checkpoint=PATH)``
  names a file that exists and gives the module every tensor it has, in its shape (mmengine
  only warns, and the run trains from random weights);
* :func:`check_datasets` - the data sets build (annotation files, images: the
  ``ValidatedCocoDataset`` checks);
* :func:`warn_unknown_top_level_keys` - a top-level config key that is a near miss of a
  runner key (``train_cfgg``) is named: mmengine ignores it silently.
"""
import difflib
import os.path as osp
from typing import Dict, Iterator, Optional, Tuple

from mmengine.config import Config
from mmengine.logging import print_log

from .errors import DetnasInputError

RUNNER_KEYS = (
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'runner_type', 'custom_imports',
    'model_wrapper_cfg', 'compile', 'vis_backends', 'backend_args', 'data_root',
    'dataset_type', 'search', 'find_unused_parameters')


def check_checkpoint_file(path: str, what: str) -> None:
    """Raises :class:`DetnasInputError` unless ``path`` (local; URLs and ``detnas://`` are
    left to their loaders) exists and unpickles.

    Args:
        path: the checkpoint.
        what: how the user named it (``'load_from'``, ``'--resume'``).
    """
    if '://' in path:
        return
    if not osp.isfile(path):
        raise DetnasInputError(f'{what} checkpoint {path!r} does not exist')
    import torch
    try:
        torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:  # truncated downloads, other formats
        raise DetnasInputError(f'{what} checkpoint {path!r} cannot be read ({e}); download '
                               'or copy it again') from None


def resume_checkpoint(work_dir: str) -> str:
    """The checkpoint ``--resume`` continues from (``work_dir/last_checkpoint``).

    Raises:
        DetnasInputError: there is none, or it names a file that is gone or unreadable.
    """
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        raise DetnasInputError(f'no checkpoint in {work_dir!r} to resume; drop --resume to '
                               'start fresh, or pass --resume CHECKPOINT')
    with open(last) as f:
        path = f.read().strip()
    check_checkpoint_file(path, f'--resume ({last} names it)')
    return path


def pretrained_inits(model: dict, where: str = 'model') -> Iterator[Tuple[str, dict]]:
    """``(config key, init_cfg)`` of every ``Pretrained`` init in a model config."""
    if isinstance(model, dict):
        init = model.get('init_cfg')
        for cfg in init if isinstance(init, list) else [init]:
            if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
                yield where, cfg
        for key, value in model.items():
            if key != 'init_cfg':
                yield from pretrained_inits(value, f'{where}.{key}')
    elif isinstance(model, (list, tuple)):
        for i, value in enumerate(model):
            yield from pretrained_inits(value, f'{where}[{i}]')


def check_pretrained_inits(cfg: Config, model=None) -> None:
    """Every plain-path ``Pretrained`` checkpoint exists and, when ``model`` (the built,
    uninitialised detector) is given, provides each tensor of the module it initialises
    in its shape; extra keys (an ImageNet classifier) are fine. ``detnas://`` seeds are
    checked by :class:`~detnas.engine.SeedCheckHook` and the seed loaders.

    Raises:
        DetnasInputError: a missing or unreadable file, or a checkpoint that leaves some of
            the module's tensors at random init (the keys are listed).
    """
    from ..checkpoints.sources import SCHEME
    from .checkpoint import CheckpointMismatchError, compare_state_dicts
    modules = dict(model.named_modules()) if model is not None else {}
    for where, init in pretrained_inits(cfg.model.to_dict()):
        path = str(init.get('checkpoint', ''))
        if not path or path.startswith(SCHEME) or '://' in path:
            continue
        check_checkpoint_file(path, f'{where}.init_cfg.checkpoint')
        module = modules.get(where[len('model.'):] if where != 'model' else '')
        if module is None:
            continue
        state = _checkpoint_state(path, init.get('prefix'))
        mismatch = compare_state_dicts(module.state_dict(), state)
        if mismatch.missing or mismatch.shape:
            mismatch.unexpected = []
            raise CheckpointMismatchError(
                f'{where}.init_cfg.checkpoint {path!r} does not fit {where} '
                f'({type(module).__name__}): training would start from random weights for:\n'
                f'{mismatch.describe()}\nUse a checkpoint of that architecture (detnas:// '
                'converts torchvision / timm / mmpretrain layouts), or init_cfg=None.')


def _checkpoint_state(path: str, prefix: Optional[str]) -> Dict:
    import torch

    from ..checkpoints.converters import unwrap_state_dict
    state = unwrap_state_dict(torch.load(path, map_location='cpu', weights_only=False))
    if prefix:
        head = prefix if prefix.endswith('.') else prefix + '.'
        state = {k[len(head):]: v for k, v in state.items() if k.startswith(head)}
    return state


def check_datasets(cfg: Config, loaders=('train_dataloader', 'val_dataloader')) -> None:
    """Builds the datasets of ``loaders`` (their annotation and image checks run now)."""
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    for key in loaders:
        loader = cfg.get(key)
        if loader and loader.get('dataset'):
            DATASETS.build(loader['dataset'])


def warn_unknown_top_level_keys(cfg: Config, path: str) -> None:
    """Logs a warning for every top-level key that is not a runner key but close to one."""
    for key in cfg.keys():
        if key in RUNNER_KEYS or key.startswith('_'):
            continue
        close = difflib.get_close_matches(key, RUNNER_KEYS, n=1, cutoff=0.8)
        if close:
            print_log(f'{path}: top-level key {key!r} is not used by the runner; did you mean '
                      f'{close[0]!r}?', logger='current', level=30)
