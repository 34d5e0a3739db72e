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

from torch import Tensor, nn

from detnas.ops import DilatedDeformFusion, dilated_deform_fusion

# GridSample entered the ONNX standard in opset 16
MIN_OPSET = 16


def _reference_forward(module: DilatedDeformFusion):
    """``module.forward`` with the op forced onto its PyTorch reference."""

    def forward(x: Tensor) -> Tensor:
        offset_weight = module.offset_pw(module.offset_dw(x))
        return dilated_deform_fusion(x, offset_weight, module.dilations, module.kernel_size,
                                     module.groups, module.softmax, use_kernel=False)

    return forward


@contextlib.contextmanager
def onnx_exportable_ops(model: nn.Module) -> Iterator[List[str]]:
    """Within the block, every custom-op module of ``model`` computes with standard ops.

    Only the instances inside ``model`` change (an instance attribute shadows the class's
    ``forward``), and they are restored on exit, also after an error.

    Args:
        model: the model about to be traced.

    Yields:
        The names (``model.named_modules``) of the routed modules, empty when none.
    """
    routed = [(name, m) for name, m in model.named_modules()
              if isinstance(m, DilatedDeformFusion)]
    for _, module in routed:
        module.forward = _reference_forward(module)
    try:
        yield [name for name, _ in routed]
    finally:
        for _, module in routed:
            del module.forward
