"""detnas: importing the package registers all its modules into MMDetection's registries."""
from .version import __version__

from . import checkpoints, datasets, engine, models, nas  # noqa: F401,E402

__all__ = ['__version__']
