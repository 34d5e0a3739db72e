"""Export of a built mmdet detector to ONNX: backbone, neck and head, without the
post-processing.

The graph's input ``input`` is a batch ``(N, 3, H, W)`` of float32 images as the detector's
data preprocessor hands them to the network: resized and padded to ``H x W``, channels in the
model's order, normalised as ``(pixel - mean) / std``; the mean, std and channel order are
stored in the file's metadata (``detnas.mean``, ``detnas.std``, ``detnas.bgr_to_rgb``). Its
outputs are the head's raw tensors, named as in :mod:`detnas.deploy.outputs`; decoding and
NMS are left to the caller (e.g. ``model.bbox_head.predict_by_feat`` on them). Shapes are
static: export once per input size.

Exporter: torch's TorchScript-based one (``torch.onnx.export(..., dynamo=False)``). On torch
2.13 it exported the demo detectors in about 0.5 s into one self-contained file; the dynamo
exporter (torch's default) took about 5.5 s and writes the weights to a separate
``.onnx.data`` file; both reproduced the PyTorch outputs to within 1e-6 of their scale.
"""
import os
import os.path as osp
import time
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from detnas.utils.errors import DetnasInputError
from .custom_ops import MIN_OPSET, onnx_exportable_ops
from .deps import require
from .outputs import TensorOutputs, flatten_outputs, head_strides, output_names

# the TorchScript exporter's newest opset on torch 2.13
MAX_OPSET = 20
DEFAULT_OPSET = 17


@dataclass
class ExportInfo:
    """What :func:`export_onnx` wrote.

    Args:
        path: the ``.onnx`` file.
        input_shape: the (static) input shape ``(N, 3, H, W)``.
        outputs: output name -> shape, in the graph's order.
        routed_ops: modules computed by their ONNX form (:mod:`detnas.deploy.custom_ops`).
        seconds: export time.
        metadata: the ``detnas.*`` metadata written into the file.
    """
    path: str
    input_shape: Tuple[int, ...]
    outputs: Dict[str, Tuple[int, ...]]
    routed_ops: List[str] = field(default_factory=list)
    seconds: float = 0.0
    metadata: Dict[str, str] = field(default_factory=dict)


def check_opset(opset: int) -> None:
    """Raises DetnasInputError unless ``MIN_OPSET <= opset <= MAX_OPSET``."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise DetnasInputError(
            f'--opset {opset} is not supported: use {MIN_OPSET} to {MAX_OPSET} (GridSample, '
            f'which the fusion op needs, is opset {MIN_OPSET}; torch\'s TorchScript exporter '
            f'stops at {MAX_OPSET})')


def preprocess_metadata(model: nn.Module) -> Dict[str, str]:
    """How the input must be prepared, from the detector's data preprocessor."""
    pre = getattr(model, 'data_preprocessor', None)
    meta = {}
    if getattr(pre, '_enable_normalize', False):
        meta['detnas.mean'] = ','.join(f'{v:g}' for v in pre.mean.flatten().tolist())
        meta['detnas.std'] = ','.join(f'{v:g}' for v in pre.std.flatten().tolist())
    if pre is not None and hasattr(pre, '_channel_conversion'):
        meta['detnas.bgr_to_rgb'] = str(bool(pre._channel_conversion))
    if hasattr(pre, 'pad_size_divisor'):
        meta['detnas.pad_size_divisor'] = str(pre.pad_size_divisor)
    return meta


def _write_metadata(path: str, metadata: Dict[str, str]) -> None:
    onnx = require('onnx', 'to export to ONNX')
    proto = onnx.load(path)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = ('detnas detector, raw head outputs (no decoding, no NMS); input: '
                        'preprocessed images, see the detnas.* metadata')
    onnx.save(proto, path)


def trace_to_onnx(module: nn.Module, inputs: Tuple[torch.Tensor, ...], path: str,
                  input_names: List[str], output_names: Optional[List[str]] = None,
                  opset: int = DEFAULT_OPSET) -> None:
    """Writes ``module(*inputs)`` to ``path`` with the TorchScript exporter, static shapes.

    Custom ops must already be routed to their ONNX form (:func:`onnx_exportable_ops`).

    Args:
        module: the module, in eval mode.
        inputs: example inputs (their shapes are fixed in the graph).
        path: the ``.onnx`` file.
        input_names: one name per input.
        output_names: names of the outputs (default: the exporter's).
        opset: ONNX opset.
    """
    with warnings.catch_warnings(), torch.no_grad():
        # the exporter's deprecation notice and the tracer's notes on shape arithmetic
        # (the shapes are static by design) are not the user's concern
        warnings.simplefilter('ignore')
        torch.onnx.export(module, tuple(inputs), path, dynamo=False, opset_version=opset,
                          input_names=input_names, output_names=output_names,
                          do_constant_folding=True)


def export_onnx(model: nn.Module, path: str, shape: Sequence[int] = (320, 320),
                opset: int = DEFAULT_OPSET, batch_size: int = 1,
                extra_metadata: Optional[Dict[str, str]] = None) -> ExportInfo:
    """Exports ``model(inputs, mode='tensor')`` to an ONNX file.

    Custom ops are exported through their ONNX form (:mod:`detnas.deploy.custom_ops`); the
    model is left as it was (eval mode is set and kept).

    Args:
        model: a built mmdet detector (weights loaded).
        path: the ``.onnx`` file to write (its folder is created).
        shape: input ``(H, W)``.
        opset: ONNX opset, ``MIN_OPSET`` to ``MAX_OPSET``.
        batch_size: the batch size of the (static) input.
        extra_metadata: more ``key: value`` metadata to store (e.g. the config's path).

    Returns:
        ExportInfo with the output names and shapes.

    Raises:
        DetnasInputError: bad opset; MissingDeployDependency: onnx is not installed.
    """
    check_opset(opset)
    require('onnx', 'to export to ONNX')
    model.eval()
    dummy = torch.randn(batch_size, 3, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs = model(dummy, mode='tensor')
    names = output_names(model, outputs)
    wrapper = TensorOutputs(model).eval()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    start = time.perf_counter()
    with onnx_exportable_ops(model) as routed:
        trace_to_onnx(wrapper, (dummy, ), path, ['input'], names, opset)
    seconds = time.perf_counter() - start
    metadata = dict(preprocess_metadata(model), **(extra_metadata or {}))
    metadata['detnas.outputs'] = ','.join(names)
    metadata['detnas.strides'] = ','.join(str(s) for s in head_strides(model))
    _write_metadata(path, metadata)
    shapes = [tuple(t.shape) for t in flatten_outputs(outputs)]
    return ExportInfo(path=path, input_shape=tuple(dummy.shape),
                      outputs=dict(zip(names, shapes)),
                      routed_ops=routed, seconds=seconds, metadata=metadata)
