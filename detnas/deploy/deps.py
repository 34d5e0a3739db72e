"""The optional packages of deployment (``pip install detnas[deploy]``), checked on use."""
import importlib
from types import ModuleType

from detnas.utils.errors import DetnasInputError

INSTALL_HINT = ('pip install detnas[deploy] (in a checkout: pip install -c constraints.txt '
                '-r requirements/deploy.txt)')


class MissingDeployDependency(DetnasInputError):
    """An optional package of deployment is not installed; the message says how to add it."""


def require(name: str, purpose: str) -> ModuleType:
    """Imports the optional package ``name`` or raises a clear error.

    Args:
        name: the module to import (``'onnx'``, ``'onnxruntime'``).
        purpose: what it is needed for, in the message (``'to export to ONNX'``).

    Raises:
        MissingDeployDependency: it is not installed (or does not import).
    """
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise MissingDeployDependency(
            f'{name} is needed {purpose} but cannot be imported ({e}); install it with: '
            f'{INSTALL_HINT}') from e
