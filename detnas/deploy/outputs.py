"""The exported graph's outputs: the detector's raw head tensors, flattened and named.

``model(inputs, mode='tensor')`` of an mmdet single-stage detector is its head's forward:
a tuple of per-level lists, e.g. ``(cls_scores, bbox_preds)`` for RetinaNet and GFocal V2,
``(cls_scores, bbox_preds, centernesses)`` for FCOS. ONNX wants a flat list, so output ``k``
of level ``l`` is named after the ``k``-th argument of the head's ``predict_by_feat`` (the
post-processing that consumes it), made singular, plus the level index::

    cls_score_0 ... cls_score_4, bbox_pred_0 ... bbox_pred_4

Level ``l`` is the ``l``-th stride of the head's prior generator (RetinaNet: 8 ... 128).
For any other structure (a two-stage detector, a head without ``predict_by_feat``) the
outputs are ``output_0, output_1, ...`` in depth-first order.
"""
import inspect
from typing import Any, List, Sequence

from torch import Tensor, nn


def flatten_outputs(outputs: Any) -> List[Tensor]:
    """The tensors of a nested tuple/list, depth first."""
    if isinstance(outputs, Tensor):
        return [outputs]
    if isinstance(outputs, (list, tuple)):
        return [t for item in outputs for t in flatten_outputs(item)]
    raise TypeError(f'a detector output of type {type(outputs).__name__} cannot be exported '
                    '(expected tensors in tuples or lists)')


def _singular(name: str) -> str:
    return name[:-1] if name.endswith('s') and not name.endswith('ss') else name


def _head_output_kinds(model: nn.Module, count: int) -> List[str]:
    """The first ``count`` arguments of ``model.bbox_head.predict_by_feat``, or []."""
    predict = getattr(getattr(model, 'bbox_head', None), 'predict_by_feat', None)
    if predict is None:
        return []
    params = [p for p in inspect.signature(predict).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [_singular(p.name) for p in params[:count]] if len(params) >= count else []


def output_names(model: nn.Module, outputs: Any) -> List[str]:
    """Names of the flattened ``outputs`` of ``model(inputs, mode='tensor')``.

    Args:
        model: the detector (its ``bbox_head.predict_by_feat`` names the kinds).
        outputs: what ``model(inputs, mode='tensor')`` returned.

    Returns:
        ``{kind}_{level}`` for a tuple of per-level lists, else ``output_{i}``.
    """
    per_level = (isinstance(outputs, (list, tuple)) and len(outputs) > 0
                 and all(isinstance(o, (list, tuple))
                         and all(isinstance(t, Tensor) for t in o) for o in outputs))
    kinds = _head_output_kinds(model, len(outputs)) if per_level else []
    if kinds:
        return [f'{kind}_{level}' for kind, group in zip(kinds, outputs)
                for level in range(len(group))]
    return [f'output_{i}' for i in range(len(flatten_outputs(outputs)))]


def head_strides(model: nn.Module) -> List[int]:
    """The strides of the head's levels (its prior generator's), or [] when unknown."""
    generator = getattr(getattr(model, 'bbox_head', None), 'prior_generator', None)
    strides = getattr(generator, 'strides', None) or []
    return [int(s[0]) if isinstance(s, (list, tuple)) else int(s) for s in strides]


class TensorOutputs(nn.Module):
    """``detector(inputs, mode='tensor')`` with its outputs flattened: what is exported.

    Args:
        detector: an mmdet detector in eval mode.
    """

    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector

    def forward(self, inputs: Tensor) -> Sequence[Tensor]:
        return tuple(flatten_outputs(self.detector(inputs, mode='tensor')))
