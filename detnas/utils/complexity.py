"""Parameter and multiply-accumulate counts of mmdet models (mmengine's fvcore-style counter)."""
from typing import Dict, Tuple

import torch
from torch import nn

from detnas.ops.ddf import TRACED_OP_NAME as DDF_TRACED_OP
from detnas.ops.ddf import ddf_macs_handle


class TensorModeForward(nn.Module):
    """Wraps a detector so that ``forward(x)`` runs its raw tensor path (no post-processing).

    Args:
        model: an mmdet detector, or any module taking one image batch tensor.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        if hasattr(self.model, 'data_preprocessor'):
            return self.model(x, mode='tensor')
        return self.model(x)


def switch_to_deploy(model: nn.Module) -> int:
    """Calls ``switch_to_deploy()`` on every submodule that has it (RepConv, implicit layers,
    BN folding). Returns how many modules switched."""
    switched = 0
    for module in list(model.modules()):
        if module is not model and hasattr(module, 'switch_to_deploy'):
            module.switch_to_deploy()
            switched += 1
    return switched


def count_params(model: nn.Module) -> int:
    """Number of parameters (buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def model_complexity(model: nn.Module, shape: Tuple[int, int], deploy: bool = False
                     ) -> Dict[str, float]:
    """Counts params and MACs for one image of ``shape`` (H, W).

    Args:
        model: detector or backbone; put in eval mode here.
        shape: input height and width.
        deploy: fuse re-parameterisable blocks first (see :func:`switch_to_deploy`).

    Returns:
        dict with ``params``, ``macs`` and ``gflops`` (2 x MACs / 1e9, the YOLO convention).
    """
    from mmengine.analysis import FlopAnalyzer
    model.eval()
    if deploy:
        switch_to_deploy(model)
    x = torch.zeros(1, 3, *shape)
    analyzer = FlopAnalyzer(TensorModeForward(model), (x, ))
    analyzer.set_op_handle(DDF_TRACED_OP, ddf_macs_handle)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    macs = int(analyzer.total())
    return dict(params=count_params(model), macs=macs, gflops=2 * macs / 1e9)
