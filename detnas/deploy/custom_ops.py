"""ONNX forms of detnas's custom ops, used while a model is exported.

The dilated-deformable fusion op (:mod:`detnas.ops`) runs as a compiled kernel
(``torch.ops.detnas.dilated_deform_fusion``), which no ONNX runtime knows. During export it
is routed through its pure-PyTorch reference (:func:`detnas.ops.dilated_deform_fusion_reference`),
a composition of standard ops around one ``F.grid_sample``; the graph then holds only
standard ONNX operators, ``GridSample`` (opset >= 16) being the least common. Any runtime with
``GridSample`` runs it: onnxruntime >= 1.12 (CPU and CUDA providers) and TensorRT >= 8.5
among others. The kernel and the reference compute the same function (tests/ops), so the
exported model matches the PyTorch one.
"""
import contextlib
from typing import Iterator, List

from torch import nn

from detnas.ops import DilatedDeformFusion

# GridSample entered the ONNX standard in opset 16
MIN_OPSET = 16


@contextlib.contextmanager
def onnx_exportable_ops(model: nn.Module) -> Iterator[List[str]]:
    """Within the block, every custom-op module of ``model`` computes with standard ops.

    Only the instances inside ``model`` change (their ``use_kernel`` flag), and they are
    restored on exit, also after an error.

    Args:
        model: the model about to be traced.

    Yields:
        The names (``model.named_modules``) of the routed modules, empty when none.
    """
    routed = [(name, m, m.use_kernel) for name, m in model.named_modules()
              if isinstance(m, DilatedDeformFusion)]
    for _, module, _ in routed:
        module.use_kernel = False
    try:
        yield [name for name, _, _ in routed]
    finally:
        for _, module, before in routed:
            module.use_kernel = before
