"""Config loading and runner building for the tools, with clear errors for bad input."""
import difflib
import os
import os.path as osp
import re
from typing import Any, Dict, Optional, Union

import torch
from mmengine.config import Config, ConfigDict

from .errors import DetnasInputError


class ConfigKeyError(DetnasInputError):
    """A config key is unknown to the config or to the class it configures."""


def load_config(path: str, cfg_options: Optional[Dict[str, Any]] = None,
                allow_new_keys: bool = False, defaults: Optional[dict] = None) -> Config:
    """Loads a config file and applies ``--cfg-options`` overrides.

    Args:
        path: the config file.
        cfg_options: ``{'a.b.c': value}`` overrides.
        allow_new_keys: accept overrides whose key does not exist yet.
        defaults: keys that exist with a default even when the file does not write them
            (a nested dict, e.g. the search settings), so overriding them is no typo.

    Raises:
        DetnasInputError: the file is missing or does not parse.
        ConfigKeyError: an override names a key that does not exist (with suggestions).
    """
    if not osp.isfile(path):
        raise DetnasInputError(f'config file {path!r} does not exist')
    try:
        cfg = Config.fromfile(path)
    except Exception as e:
        raise DetnasInputError(f'cannot parse config {path!r}: {e}') from e
    if cfg_options:
        if not allow_new_keys:
            check_override_keys(cfg, cfg_options, path, defaults)
        cfg.merge_from_dict(cfg_options)
    return cfg


def check_override_keys(cfg: Config, options: Dict[str, Any], path: str,
                        defaults: Optional[dict] = None) -> None:
    """Raises ConfigKeyError for an override whose key is not in ``cfg`` (nor in
    ``defaults``, keys that exist with a default value when the file omits them).

    A key may be new only if its parent is a dict that the override creates wholesale
    (``model.backbone.init_cfg=None`` is fine when ``init_cfg`` exists).
    """
    mappings = (dict, ConfigDict, Config)
    for dotted in options:
        node: Any = cfg
        default: Any = defaults or {}
        parts = dotted.split('.')
        for depth, part in enumerate(parts):
            fallback = default.get(part) if isinstance(default, dict) else None
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node, default = node[int(part)], None
                continue
            if isinstance(node, mappings) and part in node:
                node, default = node[part], fallback
                continue
            if isinstance(default, dict) and part in default:
                node, default = fallback, fallback
                continue
            here = '.'.join(parts[:depth]) or '<top level>'
            keys = sorted(set(node.keys() if isinstance(node, mappings) else []) |
                          set(default.keys() if isinstance(default, dict) else []))
            close = difflib.get_close_matches(part, keys, n=3)
            hint = f'; did you mean {", ".join(close)}?' if close else (
                f'; keys there: {sorted(keys)[:12]}' if keys else '')
            raise ConfigKeyError(
                f'--cfg-options key {dotted!r}: {part!r} is not a key of {here} in {path}'
                f'{hint} (pass --allow-new-keys to add it anyway)')


def default_work_dir(config_path: str) -> str:
    """``work_dirs/<config file stem>``, mmdet's default."""
    return osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])


def prepare_runtime(cfg: Config) -> None:
    """Adapts the runtime to the machine and the installed versions.

    - gloo for distributed runs without CUDA (and the process group made here, see below);
    - torch >= 2.6 loads checkpoints with ``weights_only=True`` by default, which refuses
      the logging state (``HistoryBuffer``, numpy arrays) that mmengine 0.10.7 pickles into
      every training checkpoint, so ``--resume`` and ``load_from`` would fail on the files
      the runner itself wrote. The tools restore the full loader for the checkpoints the
      user names; as with any mmdet checkpoint, load only files you trust.
    """
    os.environ.setdefault('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    if torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', ConfigDict())
    cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    if cfg.get('launcher', 'none') != 'pytorch':
        return
    if not torch.distributed.is_initialized():
        # mmengine 0.10.7's init_dist calls torch.cuda.set_device, which a CPU build lacks;
        # the Runner skips its own init when a process group exists
        torch.distributed.init_process_group(backend='gloo')
    if cfg.get('model_wrapper_cfg') is None:
        # mmengine passes device_ids=[LOCAL_RANK] to DDP, which CPU modules refuse
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))


# "FPN.__init__() got an unexpected keyword argument 'out_chanels'", as raised by the
# constructor (mmengine may prefix it with "class `FPN` in mmdet/models/necks/fpn.py: ")
_UNEXPECTED_KWARG = re.compile(
    r"(?P<cls>\w+)\.__init__\(\) got an unexpected keyword argument '(?P<key>\w+)'")


def explain_build_error(err: Exception, config_path: Optional[str] = None
                        ) -> Optional[ConfigKeyError]:
    """Turns a constructor's 'unexpected keyword argument' error, raised while building from
    a config, into a ConfigKeyError naming the type, the key and the config file.

    Args:
        err: the exception raised by the build.
        config_path: the config file the build came from, for the message.

    Returns:
        The ConfigKeyError, or None for other errors.
    """
    m = _UNEXPECTED_KWARG.search(str(err))
    if not m:
        return None
    where = f' in {config_path}' if config_path else ''
    return ConfigKeyError(f"unknown config key {m['key']!r} for type {m['cls']!r}{where}: "
                          'check its spelling against the arguments of that class')


def build_model(cfg: Config, config_path: str):
    """The config's model, built without initialisation, turning a misspelt module argument
    into a ConfigKeyError that names the key and ``config_path``."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    try:
        return MODELS.build(cfg.model)
    except TypeError as e:
        explained = explain_build_error(e, config_path)
        if explained is None:
            raise
        raise explained from None


def build_runner(cfg: Config, config_path: str):
    """Builds the config's Runner (``runner_type`` or mmengine's), turning a misspelt
    module argument into a ConfigKeyError that names the key and ``config_path``."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    try:
        return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    except TypeError as e:
        explained = explain_build_error(e, config_path)
        if explained is None:
            raise
        raise explained from e


def build_detector(cfg: Union[str, Config]):
    """The config's model in eval mode with random weights (for counting and timing).

    Args:
        cfg: a config or the path of one; its backbone ``init_cfg`` is dropped, so no
            pretrained file is read.
    """
    import detnas  # noqa: F401  registers detnas modules
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    cfg = Config.fromfile(cfg) if isinstance(cfg, str) else cfg
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    cfg.model.get('backbone', {})['init_cfg'] = None
    return MODELS.build(cfg.model).eval()
