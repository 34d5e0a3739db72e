"""Tensor-level transfer rules: gather seed channels, fit kernels, regroup convs.

Every rule returns a :class:`Transfer`: the new tensor and how many of its entries were
copied from the seed, synthesised by a rule (zeros, identities) or left at the target's
initialisation; the three counts always add up to the tensor's size.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from .errors import MappingError


@dataclass
class Transfer:
    """Result of one tensor transfer.

    Args:
        value: the target tensor.
        copied: entries taken (possibly rescaled) from seed entries.
        synthesized: entries set by a rule (zero fill, kernel padding, identity init).
        init: entries left at the target's initial value.
        tags: rules that applied (``'kernel_pad'``, ``'kernel_crop'``, ...).
    """
    value: Tensor
    copied: int
    synthesized: int
    init: int
    tags: List[str] = field(default_factory=list)


def _kernel_slices(src: int, dst: int) -> Tuple[slice, slice]:
    """Centre crop (dst < src) or centre zero-pad (dst > src) of one kernel axis."""
    if dst <= src:
        off = (src - dst) // 2
        return slice(off, off + dst), slice(0, dst)
    off = (dst - src) // 2
    return slice(0, src), slice(off, off + src)


def replica_counts(index: Tensor, groups: int, n_seed: int) -> Tensor:
    """For each target input channel, how many channels of its group slice copy the same
    seed channel (Net2Net divides outgoing weights by it). ``-1`` entries count 1."""
    per = index.numel() // groups
    counts = torch.ones(index.numel())
    for g in range(groups):
        sl = index[g * per:(g + 1) * per]
        ok = sl >= 0
        if ok.any():
            c = torch.bincount(sl[ok], minlength=n_seed).to(counts.dtype)
            counts[g * per:(g + 1) * per][ok] = c[sl[ok]]
    return counts


def gather_conv(name: str, w_s: Tensor, groups_s: int, out_idx: Tensor, in_idx: Tensor,
                groups_t: int, kernel_t: Tuple[int, int], init: Tensor, fill: str = 'zero',
                used: Optional[Tensor] = None) -> Transfer:
    """Builds a target conv weight from a seed conv weight.

    Target output channel ``o`` copies seed filter ``out_idx[o]``; its input channel ``i``
    reads seed input channel ``in_idx[i]`` (``-1``: a new channel). The seed conv is seen as
    its dense block-diagonal equivalent, so plain <-> grouped <-> depthwise changes are
    exact where the target's groups are coarser and keep the matching blocks otherwise.
    Replicated input channels divide their weights by the replica count (Net2Net); the
    kernel is centre-cropped or centre-zero-padded.

    Args:
        name: target layer name (for error messages).
        w_s: seed weight (Co_s, Ci_s / groups_s, kh, kw).
        groups_s: seed groups.
        out_idx: (Co_t,) seed output channel per target output channel, -1 for new.
        in_idx: (Ci_t,) seed input channel per target input channel, -1 for new.
        groups_t: target groups.
        kernel_t: target kernel (kh, kw).
        init: the target's initial weight (used where ``fill == 'init'``).
        fill: ``'zero'`` or ``'init'`` for entries of new channels.
        used: optional bool mask shaped like ``w_s``; marks the seed entries copied.
    """
    co_t, ci_t = out_idx.numel(), in_idx.numel()
    if groups_t <= 0 or co_t % groups_t or ci_t % groups_t:
        raise MappingError(f'layer {name!r}: groups={groups_t} must divide its {ci_t} input '
                           f'and {co_t} output channels')
    co_s, cpg_s = w_s.shape[:2]
    if co_s % groups_s:
        raise MappingError(f'seed layer for {name!r}: groups={groups_s} does not divide its '
                           f'{co_s} output channels')
    opg_s = co_s // groups_s
    cpg_t, opg_t = ci_t // groups_t, co_t // groups_t
    target_shape = (co_t, cpg_t, *kernel_t)
    if tuple(init.shape) != target_shape:
        raise MappingError(f'layer {name!r}: the target weight has shape '
                           f'{tuple(init.shape)}, expected {target_shape}')
    g_t = torch.arange(co_t) // opg_t
    grid = in_idx.view(groups_t, cpg_t)[g_t]  # (Co_t, cpg_t) seed input channels
    row = out_idx.clamp(min=0)
    local = grid - (row // opg_s * cpg_s)[:, None]
    new = (out_idx < 0)[:, None] | (grid < 0)
    valid = ~new & (local >= 0) & (local < cpg_s)
    vals = w_s[row[:, None], local.clamp(0, cpg_s - 1)].to(init.dtype)
    counts = replica_counts(in_idx, groups_t, int(groups_s * cpg_s)).view(groups_t, cpg_t)[g_t]
    vals = vals / counts[..., None, None]
    (sh, dh), (sw, dw) = (_kernel_slices(w_s.shape[2], kernel_t[0]),
                          _kernel_slices(w_s.shape[3], kernel_t[1]))
    out = torch.zeros(target_shape, dtype=init.dtype)
    out[:, :, dh, dw] = (vals * valid[..., None, None])[:, :, sh, sw]
    n_init = 0
    if fill == 'init':
        out[new] = init[new]
        n_init = int(new.sum()) * kernel_t[0] * kernel_t[1]
    overlap = (sh.stop - sh.start) * (sw.stop - sw.start)
    copied = int(valid.sum()) * overlap
    if used is not None:
        mask = torch.zeros(co_s, cpg_s, dtype=torch.bool)
        mask[row[:, None].expand_as(local)[valid], local[valid]] = True
        used[:, :, sh, sw] |= mask[:, :, None, None]
    tags = []
    if kernel_t[0] < w_s.shape[2] or kernel_t[1] < w_s.shape[3]:
        tags.append('kernel_crop')
    if kernel_t[0] > w_s.shape[2] or kernel_t[1] > w_s.shape[3]:
        tags.append('kernel_pad')
    return Transfer(out, copied, out.numel() - copied - n_init, n_init, tags)


def gather_vector(v_s: Tensor, idx: Tensor, init: Tensor, used: Optional[Tensor] = None,
                  fill_value: Optional[float] = None) -> Transfer:
    """Per-channel tensors (BN, bias): ``v_t[i] = v_s[idx[i]]``; new channels (``-1``) keep
    their init, or get ``fill_value`` when given (a neutral BN entry for zero-filled
    channels)."""
    ok = idx >= 0
    out = init.clone()
    out[ok] = v_s[idx[ok]].to(init.dtype)
    if used is not None:
        used[idx[ok]] = True
    copied = int(ok.sum())
    if fill_value is not None:
        out[~ok] = fill_value
        return Transfer(out, copied, out.numel() - copied, 0)
    return Transfer(out, copied, 0, out.numel() - copied)


def magnitude_order(w: Tensor, dim: int) -> Tensor:
    """Indices along ``dim`` sorted by decreasing L1 norm of the slices."""
    dims = [d for d in range(w.dim()) if d != dim]
    norms = w.abs().sum(dim=dims) if dims else w.abs()
    return torch.argsort(norms, descending=True, stable=True)
