"""Config loading and runner building for the tools, with clear errors for bad input."""
import difflib
import os
import os.path as osp
import re
from typing import Any, Dict, Optional

import torch
from mmengine.config import Config, ConfigDict

from .errors import DetnasInputError


class ConfigKeyError(DetnasInputError):
    """A config key is unknown to the config or to the class it configures."""


def load_config(path: str, cfg_options: Optional[Dict[str, Any]] = None,
                allow_new_keys: bool = False) -> Config:
    """Loads a config file and applies ``--cfg-options`` overrides.

    Args:
        path: the config file.
        cfg_options: ``{'a.b.c': value}`` overrides.
        allow_new_keys: accept overrides whose key does not exist yet.

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
            check_override_keys(cfg, cfg_options, path)
        cfg.merge_from_dict(cfg_options)
    return cfg


def check_override_keys(cfg: Config, options: Dict[str, Any], path: str) -> None:
    """Raises ConfigKeyError for an override whose key is not in ``cfg``.

    A key may be new only if its parent is a dict that the override creates wholesale
    (``model.backbone.init_cfg=None`` is fine when ``init_cfg`` exists).
    """
    for dotted in options:
        node: Any = cfg
        parts = dotted.split('.')
        for depth, part in enumerate(parts):
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                continue
            if isinstance(node, (dict, ConfigDict, Config)) and part in node:
                node = node[part]
                continue
            here = '.'.join(parts[:depth]) or '<top level>'
            keys = list(node.keys()) if isinstance(node, (dict, ConfigDict, Config)) else []
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

    - gloo for distributed runs without CUDA;
    - torch >= 2.6 loads checkpoints with ``weights_only=True`` by default, which refuses
      the logging state (``HistoryBuffer``, numpy arrays) that mmengine 0.10.7 pickles into
      every training checkpoint, so ``--resume`` and ``load_from`` would fail on the files
      the runner itself wrote. The tools restore the full loader for the checkpoints the
      user names; as with any mmdet checkpoint, load only files you trust.
    """
    os.environ.setdefault('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    if not torch.cuda.is_available():
        cfg.setdefault('env_cfg', ConfigDict())
        cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'


_UNEXPECTED_KWARG = re.compile(
    r"class `(?P<cls>\w+)` in (?P<where>\S+): .*unexpected keyword argument '(?P<key>\w+)'")


def explain_build_error(err: Exception) -> Optional[ConfigKeyError]:
    """Turns mmengine's 'unexpected keyword argument' build error into a ConfigKeyError
    naming the class and key; returns None for other errors."""
    m = _UNEXPECTED_KWARG.search(str(err))
    if not m:
        return None
    return ConfigKeyError(f"unknown config key {m['key']!r} for type {m['cls']!r} "
                          f"({m['where']}): check its spelling against that class's "
                          'arguments')
