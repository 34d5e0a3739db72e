"""Measure one module's latency on a device and runtime, and name the environment for
lookup-table keys.

Runtimes (:data:`RUNTIMES`): ``'torch'`` runs the module eagerly; ``'onnxruntime'`` exports
it to ONNX and times an onnxruntime CPU session with the same threads, so a search can rank
candidates by the latency of the runtime the model is deployed to (needs
``pip install detnas[deploy]``).
"""
import os
import os.path as osp
import platform
import tempfile
from contextlib import contextmanager
from typing import Sequence, Tuple, Union

import torch
from torch import nn

from detnas.utils.latency import measure_latency

Inputs = Union[torch.Tensor, Sequence[torch.Tensor]]
RUNTIMES = ('torch', 'onnxruntime')


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


def runtime_version(runtime: str) -> str:
    """``'torch 2.13.0'`` or ``'onnxruntime 1.32.0'``.

    Args:
        runtime: one of :data:`RUNTIMES`.
    """
    if runtime == 'torch':
        return f'torch {torch.__version__}'
    from detnas.deploy.deps import require
    return f'onnxruntime {require("onnxruntime", "to time layers in onnxruntime").__version__}'


def environment_key(device: Union[str, torch.device], threads: int,
                    runtime: str = 'torch') -> str:
    """Key of one latency table: device name, runtime and its version, and CPU threads.

    Args:
        device: the device measured on.
        threads: CPU threads during measurement.
        runtime: one of :data:`RUNTIMES`.
    """
    device = as_device(device)
    return f'{device.type}:{device_name(device)}|{runtime_version(runtime)}|threads {threads}'


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
                      repeats: int = 20, runtime: str = 'torch') -> float:
    """Median forward latency in milliseconds (eval mode, no grad, CUDA synchronised).

    Args:
        module: the layer or network.
        inputs: its input tensor, or a tuple of them.
        device: where to run it; module and inputs are moved there (onnxruntime: CPU only).
        warmup: untimed calls first.
        repeats: timed calls; the median is returned.
        runtime: one of :data:`RUNTIMES`.
    """
    if runtime == 'onnxruntime':
        return _onnxruntime_ms(module, _tuple(inputs), warmup, repeats)
    device = as_device(device)
    module = module.to(device).eval()
    args = tuple(t.to(device) for t in _tuple(inputs))
    stats = measure_latency(lambda: module(*args), warmup=warmup, iters=repeats,
                            cuda=device.type == 'cuda')
    return stats['median_ms']


def _onnxruntime_ms(module: nn.Module, inputs: Tuple[torch.Tensor, ...], warmup: int,
                    repeats: int) -> float:
    """:func:`measure_module_ms` in an onnxruntime CPU session with torch's thread count."""
    from detnas.deploy import onnx_exportable_ops
    from detnas.deploy.export import trace_to_onnx
    from detnas.deploy.session import ort_session
    module = module.cpu().eval()
    inputs = tuple(t.cpu() for t in inputs)
    names = [f'input_{i}' for i in range(len(inputs))]
    with tempfile.TemporaryDirectory() as folder:
        path = osp.join(folder, 'layer.onnx')
        with onnx_exportable_ops(module):
            trace_to_onnx(module, inputs, path, names)
        session = ort_session(path, torch.get_num_threads())
    feeds = {n: t.detach().cpu().float().numpy() for n, t in zip(names, inputs)}
    stats = measure_latency(lambda: session.run(None, feeds), warmup=warmup, iters=repeats,
                            cuda=False)
    return stats['median_ms']
