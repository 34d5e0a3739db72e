"""Deployment: export a detector to ONNX and check it in onnxruntime.

Needs the optional packages of ``pip install detnas[deploy]`` (onnx, onnxruntime,
onnxscript); importing this package does not, using it does (a clear error says so).

* :mod:`.export` -- :func:`export_onnx`: backbone + neck + head to a ``.onnx`` file;
* :mod:`.outputs` -- the outputs' names (``cls_score_0``, ``bbox_pred_0``, ...);
* :mod:`.custom_ops` -- the ONNX form of the fusion op (its GridSample reference);
* :mod:`.check` -- :func:`check_onnx`: onnxruntime vs PyTorch on the same input;
* :mod:`.session` -- onnxruntime sessions (also used by tools/analysis/benchmark.py);
* :mod:`.deps` -- the optional dependencies, checked on use.
"""
from .check import OnnxCheck, check_onnx, compare_outputs
from .custom_ops import onnx_exportable_ops
from .deps import MissingDeployDependency
from .export import DEFAULT_OPSET, MAX_OPSET, ExportInfo, export_onnx
from .outputs import TensorOutputs, output_names
from .session import ort_session, run_session

__all__ = [
    'OnnxCheck', 'check_onnx', 'compare_outputs', 'onnx_exportable_ops',
    'MissingDeployDependency', 'DEFAULT_OPSET', 'MAX_OPSET', 'ExportInfo', 'export_onnx',
    'TensorOutputs', 'output_names', 'ort_session', 'run_session'
]
