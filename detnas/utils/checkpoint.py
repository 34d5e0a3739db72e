"""Strict checkpoint/model compatibility checks with messages that name the keys."""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

from torch import Tensor, nn

from .errors import DetnasInputError

IGNORED_SUFFIXES = ('num_batches_tracked', )


class CheckpointMismatchError(DetnasInputError):
    """A checkpoint does not fit the model; the message lists what does not match."""


@dataclass
class KeyMismatch:
    """How a checkpoint's tensors differ from a model's.

    Args:
        missing: model keys the checkpoint lacks.
        unexpected: checkpoint keys the model lacks.
        shape: (key, model shape, checkpoint shape) for keys present in both.
    """
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    shape: List[Tuple[str, tuple, tuple]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shape)

    def describe(self, limit: int = 8) -> str:
        """A few lines listing the first ``limit`` keys of each kind."""
        lines = []
        for name, keys in (('missing from the checkpoint', self.missing),
                           ('not in the model', self.unexpected)):
            if keys:
                more = f' (+{len(keys) - limit} more)' if len(keys) > limit else ''
                lines.append(f'  {len(keys)} key(s) {name}: {keys[:limit]}{more}')
        if self.shape:
            shown = ', '.join(f'{k}: model {tuple(m)} vs checkpoint {tuple(c)}'
                              for k, m, c in self.shape[:limit])
            lines.append(f'  {len(self.shape)} shape mismatch(es): {shown}')
        return '\n'.join(lines)


def compare_state_dicts(model_sd: Dict[str, Tensor], ckpt_sd: Dict[str, Tensor]
                        ) -> KeyMismatch:
    """Compares keys and shapes (BN's ``num_batches_tracked`` is ignored)."""

    def keep(k):
        return not k.endswith(IGNORED_SUFFIXES)

    result = KeyMismatch(
        missing=[k for k in model_sd if keep(k) and k not in ckpt_sd],
        unexpected=[k for k in ckpt_sd if keep(k) and k not in model_sd])
    for k, v in model_sd.items():
        if k in ckpt_sd and keep(k) and tuple(v.shape) != tuple(ckpt_sd[k].shape):
            result.shape.append((k, tuple(v.shape), tuple(ckpt_sd[k].shape)))
    return result


def read_checkpoint(path: str) -> dict:
    """The whole checkpoint file (a user-named file: read with the full unpickler).

    Args:
        path: a runner checkpoint or a bare state dict.

    Raises:
        DetnasInputError: the file is missing or unreadable.
    """
    import os.path as osp

    import torch
    if not osp.isfile(path):
        raise DetnasInputError(f'checkpoint {path!r} does not exist')
    try:
        return torch.load(path, map_location='cpu', weights_only=False)
    except Exception as e:
        raise DetnasInputError(f'cannot read checkpoint {path!r}: {e}') from e


def checked_state_dict(model: nn.Module, checkpoint: dict, path: str, config_path: str
                       ) -> Dict[str, Tensor]:
    """The state dict of a read checkpoint, checked to fit ``model`` key by key.

    Args:
        model: the model built from ``config_path``.
        checkpoint: from :func:`read_checkpoint`.
        path: the checkpoint's file, named in the error messages.
        config_path: named in the error messages.

    Raises:
        CheckpointMismatchError: keys or shapes differ; the message lists them.
    """
    from ..checkpoints.converters import unwrap_state_dict
    state = unwrap_state_dict(checkpoint)
    mismatch = compare_state_dicts(model.state_dict(), state)
    if mismatch:
        raise CheckpointMismatchError(
            f'checkpoint {path!r} does not fit the model of {config_path!r}:\n'
            f'{mismatch.describe()}')
    return state


def load_checked_state_dict(model: nn.Module, path: str, config_path: str
                            ) -> Dict[str, Tensor]:
    """Reads a detector checkpoint and checks that it fits ``model`` key by key
    (:func:`read_checkpoint`, then :func:`checked_state_dict`).

    Args:
        model: the model built from ``config_path``.
        path: the checkpoint (a runner checkpoint or a bare state dict).
        config_path: named in the error messages.

    Returns:
        The checkpoint's state dict (not loaded into ``model``).
    """
    return checked_state_dict(model, read_checkpoint(path), path, config_path)
