"""BN recalibration: running statistics for the sub-net that is active now.

A supernet's BN running statistics mix every sub-net it trained; before a sub-net is scored
(or exported) its statistics are re-estimated: reset every BN, forward a few batches with
the BN layers in training mode (and nothing else: dropout etc. stay as they are) under
``no_grad`` with ``momentum=None`` (a cumulative average, so every batch weighs the same),
then restore each BN's mode and momentum.
"""
from typing import Callable, Iterable, Optional

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from detnas.utils.errors import DetnasInputError


def detector_forward(model: nn.Module) -> Callable:
    """A ``forward(batch)`` for mmdet data batches (``dict(inputs=..., data_samples=...)``):
    preprocess, then the detector's tensor-mode forward."""

    def forward(batch):
        data = model.data_preprocessor(batch, False)
        return model(data['inputs'], data['data_samples'], mode='tensor')

    return forward


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable, num_batches: Optional[int] = None,
                   forward: Optional[Callable] = None) -> int:
    """Re-estimates the running statistics of every BN layer of ``model``.

    Args:
        model: the network (for a supernet: with the sub-net to calibrate selected).
        batches: an iterable of inputs (tensors, or mmdet data batches with ``forward``).
        num_batches: use at most this many batches (default: all).
        forward: ``forward(batch)`` running the model (default: ``model(batch)``; see
            :func:`detector_forward`).

    Returns:
        the number of batches forwarded.
    """
    forward = forward or model
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    saved = [(m.training, m.momentum) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    count = 0
    try:
        for batch in batches:
            if num_batches is not None and count >= num_batches:
                break
            forward(batch)
            count += 1
    finally:
        for m, (training, momentum) in zip(norms, saved):
            m.train(training)
            m.momentum = momentum
    if count == 0:
        raise DetnasInputError('BN recalibration got no batches; give a non-empty data loader '
                               '(the running statistics are now reset)')
    return count
