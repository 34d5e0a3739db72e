"""Loads the compiled ``detnas.ops._C`` library, which registers ``torch.ops.detnas.*``.

Importing never fails: when the library is missing (e.g. detnas was not installed with
``pip install --no-build-isolation -e .``) the public API falls back to the PyTorch reference
and warns once, on first use.
"""
import warnings

import torch

_OP = 'detnas::dilated_deform_fusion'
_warned = set()

try:
    from . import _C  # noqa: F401  (static initialisers register the ops)
    EXT_ERROR = None
except (ImportError, OSError) as err:  # not built, or built against another torch
    EXT_ERROR = err


def ext_available() -> bool:
    """Whether the compiled op library is loaded."""
    return EXT_ERROR is None and hasattr(torch.ops.detnas, 'dilated_deform_fusion')


def has_kernel(device_type: str) -> bool:
    """Whether the compiled op has a kernel for ``device_type`` ('cpu', 'cuda', 'meta')."""
    if not ext_available():
        return False
    key = {'cpu': 'CPU', 'cuda': 'CUDA', 'meta': 'Meta'}.get(device_type)
    return key is not None and torch._C._dispatch_has_kernel_for_dispatch_key(_OP, key)


def warn_fallback(reason: str) -> None:
    """Warn once per distinct reason that the PyTorch reference is used instead."""
    if reason in _warned:
        return
    _warned.add(reason)
    warnings.warn(
        f'detnas.ops.dilated_deform_fusion: {reason}; using the (slower, memory-hungry) '
        'PyTorch reference. Build the op with `pip install --no-build-isolation -e .`.',
        RuntimeWarning,
        stacklevel=3)
