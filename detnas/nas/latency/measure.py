"""Measure one module's latency on a device, and name the device for lookup-table keys."""
import os
import platform
from contextlib import contextmanager
from typing import Sequence, Tuple, Union

import torch
from torch import nn

from detnas.utils.latency import measure_latency

Inputs = Union[torch.Tensor, Sequence[torch.Tensor]]


def as_device(device: Union[str, torch.device]) -> torch.device:
    """``torch.device`` from a string or device.

    Args:
        device: e.g. ``'cpu'``, ``'cuda'``, ``'cuda:1'``.
    """
    return torch.device(device)


def device_name(device: Union[str, torch.device]) -> str:
    """The hardware behind ``device``: the GPU name, or the CPU model.

    Args:
        device: the device measured on.
    """
    device = as_device(device)
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    if os.path.isfile('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    return platform.processor() or platform.machine() or 'cpu'


def environment_key(device: Union[str, torch.device], threads: int) -> str:
    """Key of one latency table: device name, torch version and CPU threads.

    Args:
        device: the device measured on.
        threads: ``torch.get_num_threads()`` during measurement.
    """
    device = as_device(device)
    return f'{device.type}:{device_name(device)}|torch {torch.__version__}|threads {threads}'


@contextmanager
def num_threads(count: int):
    """Sets ``torch.set_num_threads(count)`` inside the block, restoring it afterwards.

    Args:
        count: CPU threads for intra-op parallelism.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _tuple(inputs: Inputs) -> Tuple[torch.Tensor, ...]:
    return (inputs, ) if isinstance(inputs, torch.Tensor) else tuple(inputs)


def measure_module_ms(module: nn.Module, inputs: Inputs,
                      device: Union[str, torch.device] = 'cpu', warmup: int = 5,
                      repeats: int = 20) -> float:
    """Median forward latency in milliseconds (eval mode, no grad, CUDA synchronised).

    Args:
        module: the layer or network.
        inputs: its input tensor, or a tuple of them.
        device: where to run it; module and inputs are moved there.
        warmup: untimed calls first.
        repeats: timed calls; the median is returned.
    """
    device = as_device(device)
    module = module.to(device).eval()
    args = tuple(t.to(device) for t in _tuple(inputs))
    stats = measure_latency(lambda: module(*args), warmup=warmup, iters=repeats,
                            cuda=device.type == 'cuda')
    return stats['median_ms']
