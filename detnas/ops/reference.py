"""Pure-PyTorch reference of the dilated-deformable fusion op (grid_sample composition).

It is the fallback when no compiled kernel is available and the oracle of the tests.
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def base_displacements(dilations: Sequence[int], kernel_size: int) -> Tuple[list, list]:
    """Integer (dy, dx) of every sampling point before its learned offset.

    Point ``p = (r * k + i) * k + j`` sits at ``((i - k // 2) * d_r, (j - k // 2) * d_r)``.

    Args:
        dilations (Sequence[int]): the dilation rates ``d_r``.
        kernel_size (int): odd grid size ``k``.

    Returns:
        tuple[list, list]: ``dy`` and ``dx``, each of length ``len(dilations) * k * k``.
    """
    half = kernel_size // 2
    dy, dx = [], []
    for d in dilations:
        for i in range(kernel_size):
            for j in range(kernel_size):
                dy.append((i - half) * d)
                dx.append((j - half) * d)
    return dy, dx


def dilated_deform_fusion_reference(x: Tensor,
                                    offset_weight: Tensor,
                                    dilations: Sequence[int],
                                    kernel_size: int = 3,
                                    groups: int = 1,
                                    softmax: bool = False) -> Tensor:
    """Dilated-deformable fusion written with ``F.grid_sample`` (all points in one call).

    Arguments are as in :func:`detnas.ops.dilated_deform_fusion`; they are assumed valid.
    Peak memory is about ``P`` times the output (every sample is materialised). fp16/bf16
    inputs are computed in fp32 (sampling positions need more than 8 mantissa bits) and the
    result is cast back, like the kernels' fp32 accumulation.
    """
    if x.dtype in (torch.float16, torch.bfloat16):
        out = dilated_deform_fusion_reference(x.float(), offset_weight.float(), dilations,
                                              kernel_size, groups, softmax)
        return out.to(x.dtype)
    n, c, h, w = x.shape
    g = groups
    p = len(dilations) * kernel_size * kernel_size
    ow = offset_weight.reshape(n, g, 3 * p, h, w)
    off = ow[:, :, :2 * p].reshape(n, g, p, 2, h, w)
    wts = ow[:, :, 2 * p:]
    if softmax:
        wts = wts.softmax(dim=2)
    dy, dx = base_displacements(dilations, kernel_size)
    opts = dict(dtype=x.dtype, device=x.device)
    base_y = torch.tensor(dy, **opts).view(1, 1, p, 1, 1) + torch.arange(h, **opts).view(h, 1)
    base_x = torch.tensor(dx, **opts).view(1, 1, p, 1, 1) + torch.arange(w, **opts)
    py = base_y + off[:, :, :, 1]  # (n, g, p, h, w) pixel coordinates
    px = base_x + off[:, :, :, 0]
    # align_corners=False: pixel i has normalised centre (2 i + 1) / size - 1 (valid for size 1)
    grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)
    grid = grid.reshape(n * g, p * h, w, 2)
    sampled = F.grid_sample(
        x.reshape(n * g, c // g, h, w),
        grid,
        mode='bilinear',
        padding_mode='zeros',
        align_corners=False)
    sampled = sampled.view(n, g, c // g, p, h, w)
    out = (sampled * wts.unsqueeze(2)).sum(dim=3)
    return out.reshape(n, c, h, w)
