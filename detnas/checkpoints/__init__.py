"""Pretrained checkpoints: where seeds come from (``detnas://`` aliases and paths), the key
converters between layouts, and the ImageNet classifier check of a seed.

Importing it lets every mmengine checkpoint field read ``detnas://`` (the families register
their layouts when :mod:`detnas.nas` is imported, which ``import detnas`` does), and makes
the training checkpoints written from then on load with ``weights_only=True``
(:mod:`.safe_load`).
"""
from .converters import (ConvertedCheckpoint, convert_checkpoint, detect_layout,
                         register_converter, unwrap_state_dict)
from .safe_load import enable_safe_checkpoints
from .sources import (SCHEME, SEED_ALIASES, SeedAlias, SeedNotFoundError, load_seed,
                      register_checkpoint_scheme, resolve_seed)

register_checkpoint_scheme()
enable_safe_checkpoints()

__all__ = ['ConvertedCheckpoint', 'convert_checkpoint', 'detect_layout', 'register_converter',
           'unwrap_state_dict', 'enable_safe_checkpoints', 'SCHEME', 'SEED_ALIASES',
           'SeedAlias', 'SeedNotFoundError', 'load_seed', 'register_checkpoint_scheme',
           'resolve_seed']
