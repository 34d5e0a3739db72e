"""Public API of the dilated-deformable fusion op: argument checks, autograd Function, dispatch.

For every output location and channel group the op samples the input at
``P = len(dilations) * k * k`` points (a k x k grid at each dilation rate, each point moved by
a learned offset), bilinearly with zero padding, multiplies each sample by a per-location,
per-point weight and sums. Stride 1, so the output has the input's size.
"""
import numbers
from typing import Sequence, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import _ext
from .reference import dilated_deform_fusion_reference

MAX_DILATIONS = 8
MAX_POINTS = 256
_KERNEL_DTYPES = {
    'cpu': (torch.float32, torch.float64),
    'cuda': (torch.float32, torch.float64, torch.float16, torch.bfloat16),
    'meta': (torch.float32, torch.float64, torch.float16, torch.bfloat16),
}


def num_points(dilations: Sequence[int], kernel_size: int) -> int:
    """Sampling points per location and group: ``len(dilations) * kernel_size ** 2``."""
    return len(dilations) * kernel_size * kernel_size


def check_args(x: Tensor, offset_weight: Tensor, dilations: Sequence[int], kernel_size: int,
               groups: int) -> Tuple[Tuple[int, ...], int]:
    """Validate the op's arguments; raise a clear error naming the bad one.

    Returns:
        tuple: ``(dilations as a tuple of ints, number of points P)``.
    """
    for name, t in (('x', x), ('offset_weight', offset_weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f'{name} must be a torch.Tensor, got {type(t).__name__}')
        if t.dim() != 4:
            raise ValueError(f'{name} must be 4-D (N, C, H, W), got shape {tuple(t.shape)}')
    if not x.is_floating_point():
        raise TypeError(f'x must be a floating-point tensor, got {x.dtype}; cast it with '
                        '.float()')
    if offset_weight.dtype != x.dtype:
        raise TypeError(f'offset_weight dtype {offset_weight.dtype} must match x dtype '
                        f'{x.dtype}; cast it with .to(x.dtype)')
    if offset_weight.device != x.device:
        raise ValueError(f'offset_weight is on {offset_weight.device} but x is on {x.device}; '
                         'move both to the same device')
    if (isinstance(kernel_size, bool) or not isinstance(kernel_size, numbers.Integral)
            or kernel_size < 1 or kernel_size % 2 == 0):
        raise ValueError(f'kernel_size must be a positive odd integer, got {kernel_size!r}')
    if isinstance(dilations, numbers.Integral):
        dilations = (dilations, )
    dilations = tuple(dilations)
    if not 1 <= len(dilations) <= MAX_DILATIONS or any(
            isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
            for d in dilations):
        raise ValueError(f'dilations must be 1 to {MAX_DILATIONS} integers >= 1, '
                         f'got {dilations!r}')
    dilations = tuple(int(d) for d in dilations)
    c = x.shape[1]
    if (isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1
            or c % groups):
        raise ValueError(f'groups must be a positive integer dividing the {c} channels of x, '
                         f'got {groups!r}')
    p = num_points(dilations, kernel_size)
    if p > MAX_POINTS:
        raise ValueError(f'len(dilations) * kernel_size**2 = {p} points exceeds {MAX_POINTS}; '
                         'use fewer rates or a smaller kernel_size')
    n, _, h, w = x.shape
    expected = (n, groups * 3 * p, h, w)
    if tuple(offset_weight.shape) != expected:
        raise ValueError(
            f'offset_weight must have shape (N, groups*3*P, H, W) = {expected} '
            f'(P = len(dilations)*kernel_size**2 = {p}; per group 2*P offsets (dx, dy) '
            f'then P weights), got {tuple(offset_weight.shape)}')
    return dilations, p


class DilatedDeformFusionFunction(torch.autograd.Function):
    """Autograd Function over ``torch.ops.detnas.dilated_deform_fusion`` (+ its backward)."""

    @staticmethod
    def forward(ctx, x, offset_weight, dilations, kernel_size, groups, softmax, deterministic):
        ctx.cfg = (list(dilations), int(kernel_size), int(groups), bool(softmax),
                   bool(deterministic))
        ctx.save_for_backward(x, offset_weight)
        return torch.ops.detnas.dilated_deform_fusion(x, offset_weight, *ctx.cfg[:4])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, offset_weight = ctx.saved_tensors
        grad_x, grad_ow = torch.ops.detnas.dilated_deform_fusion_backward(
            grad_out, x, offset_weight, *ctx.cfg)
        return (grad_x if ctx.needs_input_grad[0] else None,
                grad_ow if ctx.needs_input_grad[1] else None, None, None, None, None, None)


# the name mmengine's FlopAnalyzer (a jit trace) gives the op, for :func:`ddf_macs_handle`
TRACED_OP_NAME = 'prim::PythonOp.' + DilatedDeformFusionFunction.__name__


def ddf_macs_handle(inputs, outputs) -> int:
    """FlopAnalyzer handle of the op: ``P`` multiply-adds per output element (each output
    sums ``P`` weighted samples, counted like a depthwise conv with ``P`` taps; the bilinear
    interpolation of a sample is not counted, as FLOP counters do for deformable convs).

    Args:
        inputs: the traced node's input values (``x``, ``offset_weight``).
        outputs: its output values; their node carries the scalar arguments.
    """
    dilations, kernel_size = outputs[0].node().scalar_args()[:2]
    n, c, h, w = inputs[0].type().sizes()
    return n * c * h * w * num_points(dilations, kernel_size)


def _use_kernel(x: Tensor) -> bool:
    dev = x.device.type
    if x.dtype not in _KERNEL_DTYPES.get(dev, ()):
        return False
    if _ext.has_kernel(dev):
        return True
    if not _ext.ext_available():
        _ext.warn_fallback(f'the compiled op is not available ({_ext.EXT_ERROR})')
    else:
        _ext.warn_fallback(f'the compiled op has no {dev} kernel in this build')
    return False


def dilated_deform_fusion(x: Tensor,
                          offset_weight: Tensor,
                          dilations: Sequence[int] = (1, 2, 3),
                          kernel_size: int = 3,
                          groups: int = 1,
                          softmax: bool = False,
                          deterministic: bool = False,
                          use_kernel: bool = True) -> Tensor:
    """Sample at several dilation rates with learned offsets, weight the samples and sum.

    ``out[n, g*Cg + c, h, w] = sum_p a[n, g, p, h, w] * bilinear(x[n, g*Cg + c],
    h + dy_p + oy, w + dx_p + ox)`` with zero padding, where point ``p = (r*k + i)*k + j``
    has base displacement ``((i - k//2) * dilations[r], (j - k//2) * dilations[r])``.

    Args:
        x (Tensor): input features ``(N, C, H, W)``.
        offset_weight (Tensor): packed offsets and weights ``(N, groups*3*P, H, W)``,
            ``P = len(dilations) * kernel_size**2``. Per group the ``3P`` channels are
            ``dx_0, dy_0, ..., dx_{P-1}, dy_{P-1}`` (pixels) then the ``P`` weights.
        dilations (Sequence[int]): dilation rates, 1 to 8 of them. Defaults to (1, 2, 3).
        kernel_size (int): odd size of the grid at each rate. Defaults to 3.
        groups (int): channel groups; each has its own offsets and weights. Defaults to 1.
        softmax (bool): normalise the weights of a location with a softmax over its ``P``
            points. Defaults to False.
        deterministic (bool): bitwise reproducible backward (CUDA: sort-based input gradient
            instead of atomics; the CPU kernel is always deterministic). Defaults to False.
        use_kernel (bool): use the compiled kernel when one exists for the device and dtype
            (CPU: fp32/fp64; CUDA: fp32/fp64/fp16/bf16); otherwise, or when False, the
            PyTorch reference. Defaults to True.

    Returns:
        Tensor: ``(N, C, H, W)``; from the kernels its memory is channels_last.
    """
    dilations, _ = check_args(x, offset_weight, dilations, kernel_size, groups)
    if use_kernel and _use_kernel(x):
        return DilatedDeformFusionFunction.apply(x, offset_weight, dilations, kernel_size,
                                                 groups, softmax, deterministic)
    return dilated_deform_fusion_reference(x, offset_weight, dilations, kernel_size, groups,
                                           softmax)
