"""detnas: importing the package registers all its modules into MMDetection's registries.

Without MMDetection installed only :mod:`detnas.ops` (the fusion op, which needs torch
alone) is usable; everything else needs mmdet, mmcv and mmengine.
"""
from .version import __version__

try:
    import mmdet  # noqa: F401
except ModuleNotFoundError as err:  # the op alone runs on torch (e.g. a bare GPU machine)
    if err.name != 'mmdet':
        raise
else:
    from . import checkpoints, datasets, engine, evaluation, models, nas  # noqa: F401,E402
    from .utils.config_scope import register_config_scope
    register_config_scope()  # `_base_ = 'detnas::baselines/...'` from any directory

__all__ = ['__version__']
