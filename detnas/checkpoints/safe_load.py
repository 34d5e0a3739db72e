"""Checkpoints that load with ``torch.load(weights_only=True)``, torch's default since 2.6.

mmengine 0.10.7 pickles its logging state into every training checkpoint: ``HistoryBuffer``
objects (numpy arrays inside) and numpy scalars (the ETA). Unpickling those needs numpy's
internals and ``getattr`` allowlisted, so ``mmdet.apis.init_detector``, ``DetInferencer``
and mmdet's tools fail on them unless ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` is set. On
``import detnas`` (which every detnas config does through ``custom_imports``):

* a ``HistoryBuffer`` pickles as ``HistoryBuffer(log list, count list, max_length)``;
* the message hub's state carries plain Python numbers instead of numpy scalars;
* ``HistoryBuffer`` is registered as a safe global.

Checkpoints written from then on need nothing else to load safely; older ones still need
the environment variable (or ``weights_only=False`` for files you trust).
"""
import copyreg
import functools

import numpy as np
import torch


def _reduce_history_buffer(buffer):
    return (type(buffer), (buffer._log_history.tolist(), buffer._count_history.tolist(),
                           buffer.max_length))


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def enable_safe_checkpoints() -> None:
    """Applies the three changes of the module docstring (idempotent)."""
    from mmengine.logging import MessageHub
    from mmengine.logging.history_buffer import HistoryBuffer
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals([HistoryBuffer])
    state_dict = MessageHub.state_dict
    if getattr(state_dict, '_detnas_plain', False):
        return

    @functools.wraps(state_dict)
    def plain_state_dict(self):
        state = state_dict(self)
        state['runtime_info'] = type(state['runtime_info'])(
            (k, _plain(v)) for k, v in state['runtime_info'].items())
        return state

    plain_state_dict._detnas_plain = True
    MessageHub.state_dict = plain_state_dict
