"""Checks a run's inputs before the Runner prints its environment, creates its log folder or
trains a single iteration: a refused run leaves nothing behind and says one thing.

* :func:`check_checkpoint_file` - a ``load_from`` / ``--resume`` / ``--checkpoint`` file
  exists and can be read (a truncated download fails here, not mid-way);
* :func:`resume_checkpoint` - ``--resume`` finds a checkpoint in the work dir;
  :func:`resumed_seed` - the seed the resumed run continues with;
* :func:`check_pretrained_inits` - every ``init_cfg=dict(type='Pretrained', checkpoint=...)``
  (a plain path or a ``detnas://`` seed) names a file that exists, can be read and gives the
  module every tensor it has, in its shape (mmengine only warns, and the run trains from
  random weights);
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


def resumed_seed(path: str) -> Optional[int]:
    """The random seed of the run that wrote a training checkpoint (``meta.seed``), or None.

    mmengine 0.10.7 builds the training data loader (its sampler's shuffling seed, its
    workers' seeds) from the new run's seed *before* it resumes and restores the old seed,
    so without this a resumed run whose config sets no seed shuffles the data differently
    from the run it continues. Set ``cfg.randomness.seed`` to this value first.

    Args:
        path: a checkpoint that :func:`check_checkpoint_file` accepted.
    """
    import torch
    try:  # memory-mapped: only the metadata is read
        ckpt = torch.load(path, map_location='cpu', weights_only=False, mmap=True)
    except RuntimeError:  # a legacy (non-zip) file cannot be mapped
        ckpt = torch.load(path, map_location='cpu', weights_only=False)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    seed = meta.get('seed') if isinstance(meta, dict) else None
    return seed if isinstance(seed, int) else None


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
    """Every ``Pretrained`` checkpoint of the model config exists and can be read (a
    ``detnas://`` seed: found, of a known layout, converted) and, when ``model`` (the
    built, uninitialised detector) is given, provides each tensor of the module it
    initialises in its shape; extra keys (an ImageNet classifier) are fine. URLs are left
    to their loaders. ``custom_hooks=[dict(type='SeedCheckHook', strict=False)]`` lets a
    ``detnas://`` seed that does not fit through (the hook logs the keys instead).

    Raises:
        DetnasInputError: a missing or unreadable file, or a seed of no known layout.
        CheckpointMismatchError: a checkpoint that leaves some of the module's tensors at
            random init (the keys are listed).
    """
    from ..checkpoints.sources import SCHEME, load_seed
    from .checkpoint import CheckpointMismatchError, compare_state_dicts
    modules = dict(model.named_modules()) if model is not None else {}
    lenient = any(isinstance(h, dict) and h.get('type') == 'SeedCheckHook' and
                  h.get('strict') is False for h in cfg.get('custom_hooks') or [])
    for where, init in pretrained_inits(cfg.model.to_dict()):
        path = str(init.get('checkpoint', ''))
        name = where[len('model.'):] if where != 'model' else ''
        module = modules.get(name)
        if path.startswith(SCHEME):
            state = load_seed(path).backbone  # its errors name the file and the fix
            if module is not None and not lenient:
                problem = seed_mismatch(path, name, module, state)
                if problem:
                    raise CheckpointMismatchError(problem)
            continue
        if not path or '://' in path:
            continue
        check_checkpoint_file(path, f'{where}.init_cfg')
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


def seed_mismatch(seed: str, name: str, module, state: Dict) -> Optional[str]:
    """The error message for a ``detnas://`` seed that does not fit ``module`` key for key
    (``None`` if it fits); shared with :class:`~detnas.engine.SeedCheckHook`.

    Args:
        seed: the ``detnas://`` checkpoint, as configured.
        name: the module's name in the model (``'backbone'``).
        module: the module the seed initialises.
        state: the converted seed (``load_seed(seed).backbone``).
    """
    from .checkpoint import compare_state_dicts
    mismatch = compare_state_dicts(module.state_dict(), state)
    if not mismatch:
        return None
    return (f'seed {seed} does not fit {name or "model"} ({type(module).__name__}):\n'
            f'{mismatch.describe()}\nUse a seed of the same family and width, or set '
            'init_cfg=None to train from scratch.')


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
