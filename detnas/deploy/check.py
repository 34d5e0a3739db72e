"""Does the exported model compute what the PyTorch model computes? Both run on the same
input; every output is compared.

An output passes when ``max|onnx - torch| <= max(rtol * scale, atol)``, with ``scale`` its
largest PyTorch magnitude: ``rtol = 1e-4`` is float32 round-off accumulated over a deep
network (the demo detectors differ by about 1e-6 of their scale), and the absolute floor
``atol = 1e-6`` only matters for an output that is (almost) all zeros, whose relative error
means nothing. The check passes when every output does.
"""
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
import torch
from torch import Tensor, nn

from .outputs import flatten_outputs
from .session import ort_session, run_session

RTOL = 1e-4
ATOL = 1e-6


@dataclass
class OutputDiff:
    """One output compared.

    Args:
        name: the graph's output name.
        max_abs_diff: ``max|onnx - torch|``.
        scale: ``max|torch|``.
        passed: ``max_abs_diff <= max(rtol * scale, atol)``.
    """
    name: str
    max_abs_diff: float
    scale: float
    passed: bool


@dataclass
class OnnxCheck:
    """The comparison of an ONNX model with its PyTorch model.

    Args:
        outputs: per output, in the graph's order.
        rtol: the relative tolerance used.
        atol: the absolute floor used.
    """
    outputs: List[OutputDiff] = field(default_factory=list)
    rtol: float = RTOL
    atol: float = ATOL

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    @property
    def max_abs_diff(self) -> float:
        return max(o.max_abs_diff for o in self.outputs)

    @property
    def scale(self) -> float:
        """The largest magnitude of any PyTorch output."""
        return max(o.scale for o in self.outputs)

    @property
    def worst(self) -> OutputDiff:
        """The output with the largest difference relative to its scale."""
        return max(self.outputs, key=lambda o: o.max_abs_diff / max(o.scale, self.atol))

    def summary(self) -> str:
        """One line: verdict, max difference, scale and the worst output."""
        w = self.worst
        return (f'onnxruntime vs PyTorch: {"PASS" if self.passed else "FAIL"}, max abs diff '
                f'{self.max_abs_diff:.3g} (output scale {self.scale:.3g}); worst output '
                f'{w.name}: {w.max_abs_diff:.3g} of {w.scale:.3g} (allowed: '
                f'max({self.rtol:g} x scale, {self.atol:g}))')


def compare_outputs(names: List[str], expected: List[Tensor], actual: List[np.ndarray],
                    rtol: float = RTOL, atol: float = ATOL) -> OnnxCheck:
    """Compares PyTorch outputs with ONNX outputs, output by output.

    Args:
        names: the output names.
        expected: the PyTorch outputs.
        actual: the onnxruntime outputs, in the same order.
        rtol: relative tolerance (of each output's scale).
        atol: absolute floor of the tolerance.

    Raises:
        ValueError: the counts or shapes differ (the graph is not the model's).
    """
    if not len(names) == len(expected) == len(actual):
        raise ValueError(f'{len(actual)} ONNX outputs for {len(expected)} PyTorch outputs')
    result = OnnxCheck(rtol=rtol, atol=atol)
    for name, ref, out in zip(names, expected, actual):
        ref = ref.detach().cpu().double().numpy()
        if ref.shape != out.shape:
            raise ValueError(f'output {name}: ONNX shape {out.shape} vs PyTorch {ref.shape}')
        diff = float(np.abs(out.astype(np.float64) - ref).max(initial=0.0))
        scale = float(np.abs(ref).max(initial=0.0))
        result.outputs.append(OutputDiff(name, diff, scale, diff <= max(rtol * scale, atol)))
    return result


def check_onnx(model: nn.Module, path: str, inputs: Optional[Tensor] = None,
               rtol: float = RTOL, atol: float = ATOL, threads: int = 1) -> OnnxCheck:
    """Runs the ``.onnx`` in onnxruntime and ``model(inputs, mode='tensor')`` in PyTorch
    (with its compiled kernels) on the same input and compares the outputs.

    Args:
        model: the detector that was exported.
        path: the ``.onnx`` file.
        inputs: the input batch; default: seeded random values of the exported shape (not
            the batch the export traced).
        rtol: relative tolerance (of each output's scale).
        atol: absolute floor of the tolerance.
        threads: onnxruntime's intra-op threads.

    Raises:
        MissingDeployDependency: onnxruntime is not installed.
    """
    session = ort_session(path, threads)
    if inputs is None:
        shape = session.get_inputs()[0].shape
        inputs = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        expected = flatten_outputs(model(inputs, mode='tensor'))
    names = [o.name for o in session.get_outputs()]
    return compare_outputs(names, expected, run_session(session, inputs), rtol, atol)
