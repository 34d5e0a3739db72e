"""Mapping across families by dynamic programming over ordered conv lists.

Both state dicts are read as ordered lists of convs (4-D weights, each with the BN that
follows it). A monotone alignment maximises the summed compatibility of matched pairs:
same kind (depthwise or not), channel ratios, kernel sizes and relative depth. Each matched
conv takes the seed tensor by magnitude (or first-k) channel selection and centre
crop/pad of the kernel; its BN follows the kept output channels. Unmatched tensors keep
their initialisation. The alignment's score is an architecture similarity in [0, 1]
(1 for identical conv lists).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from .errors import MappingError
from .report import MappingReport
from .tensors import gather_conv, gather_vector, magnitude_order

CHANNEL_RULES = ('magnitude', 'first_k')
NORM_PARAMS = ('weight', 'bias', 'running_mean', 'running_var')


@dataclass(frozen=True)
class LayerInfo:
    """A conv read from a state dict.

    Args:
        key: module name of the conv.
        norm: module name of the BN after it, or None.
        shape: weight shape (Co, Ci/groups, kh, kw).
        position: relative depth in [0, 1].
    """
    key: str
    norm: Optional[str]
    shape: Tuple[int, ...]
    position: float

    @property
    def depthwise(self) -> bool:
        return self.shape[1] == 1 and self.shape[0] > 1


@dataclass
class LayerMatch:
    """An alignment of seed and target convs.

    Args:
        pairs: (seed index, target index, score) in order.
        seed: seed convs.
        target: target convs.
    """
    pairs: List[Tuple[int, int, float]]
    seed: List[LayerInfo]
    target: List[LayerInfo]
    similarity: float = field(init=False)

    def __post_init__(self):
        total = len(self.seed) + len(self.target)
        self.similarity = 2 * sum(s for _, _, s in self.pairs) / total if total else 0.0


def extract_layers(sd: Dict[str, Tensor]) -> List[LayerInfo]:
    """Convs (4-D weights) in state-dict order, each with the following BN of its width."""
    keys = list(sd)
    convs = [k for k in keys if k.endswith('.weight') and sd[k].dim() == 4]
    layers = []
    for n, key in enumerate(convs):
        start = keys.index(key) + 1
        stop = keys.index(convs[n + 1]) if n + 1 < len(convs) else len(keys)
        width = sd[key].shape[0]
        norm = None
        for k in keys[start:stop]:
            if k.endswith('.running_mean') and sd[k].numel() == width:
                norm = k[:-len('.running_mean')]
                break
        layers.append(LayerInfo(key[:-len('.weight')], norm, tuple(sd[key].shape),
                                n / max(1, len(convs) - 1)))
    return layers


def pair_score(s: LayerInfo, t: LayerInfo) -> float:
    """Compatibility of a seed and a target conv in [0, 1]; 0 means incompatible."""
    if s.depthwise != t.depthwise:
        return 0.0
    out_r = min(s.shape[0], t.shape[0]) / max(s.shape[0], t.shape[0])
    in_r = 1.0 if s.depthwise else min(s.shape[1], t.shape[1]) / max(s.shape[1], t.shape[1])
    k_s, k_t = s.shape[2] * s.shape[3], t.shape[2] * t.shape[3]
    kernel = 1.0 if k_s == k_t else (0.5 if min(k_s, k_t) > 1 else 0.25)
    position = max(0.0, 1.0 - abs(s.position - t.position))
    return (out_r * in_r) ** 0.5 * kernel * position


def match_layers(seed: List[LayerInfo], target: List[LayerInfo], min_score: float = 0.1
                 ) -> LayerMatch:
    """Monotone alignment maximising the summed :func:`pair_score` (pairs below
    ``min_score`` are not matched)."""
    n, m = len(seed), len(target)
    dp = [[0.0] * (m + 1) for _ in range(n + 1)]
    scores = [[pair_score(s, t) for t in target] for s in seed]
    for i in range(1, n + 1):
        row, prev = dp[i], dp[i - 1]
        for j in range(1, m + 1):
            best = max(prev[j], row[j - 1])
            sc = scores[i - 1][j - 1]
            if sc >= min_score:
                best = max(best, prev[j - 1] + sc)
            row[j] = best
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        sc = scores[i - 1][j - 1]
        if sc >= min_score and abs(dp[i][j] - (dp[i - 1][j - 1] + sc)) < 1e-12:
            pairs.append((i - 1, j - 1, sc))
            i, j = i - 1, j - 1
        elif dp[i][j] == dp[i - 1][j]:
            i -= 1
        else:
            j -= 1
    return LayerMatch(pairs[::-1], seed, target)


def _channel_index(w: Tensor, dim: int, n_target: int, rule: str) -> Tensor:
    n_seed = w.shape[dim]
    if n_target >= n_seed:
        return torch.cat([torch.arange(n_seed),
                          torch.full((n_target - n_seed, ), -1, dtype=torch.long)])
    if rule == 'first_k':
        return torch.arange(n_target)
    return magnitude_order(w, dim)[:n_target].sort().values


def map_across_families(seed_sd: Dict[str, Tensor], target_init: Dict[str, Tensor],
                        channels: str = 'magnitude', min_similarity: float = 0.0,
                        min_score: float = 0.1
                        ) -> Tuple[Dict[str, Tensor], MappingReport, LayerMatch]:
    """Maps any conv backbone into any other by layer alignment.

    Args:
        seed_sd: seed state dict.
        target_init: target's initial state dict.
        channels: ``'magnitude'`` (keep the largest-L1 channels) or ``'first_k'``.
        min_similarity: raise when the alignment's similarity is lower.
        min_score: smallest pair score that may be matched.

    Raises:
        MappingError: no conv could be matched, or the similarity is below
            ``min_similarity``; the message names the first unmatched target layer.
    """
    if channels not in CHANNEL_RULES:
        raise MappingError(f'channels={channels!r} is unknown; choose one of {CHANNEL_RULES}')
    seed, target = extract_layers(seed_sd), extract_layers(target_init)
    if not target:
        raise MappingError('the target state dict has no conv layers (4-D weights)')
    match = match_layers(seed, target, min_score)
    matched_t = {j for _, j, _ in match.pairs}
    first_free = next((t for j, t in enumerate(target) if j not in matched_t), None)
    if not match.pairs or match.similarity < min_similarity:
        layer = first_free or target[0]
        raise MappingError(
            f'no usable match: similarity {match.similarity:.3f} with {len(match.pairs)} of '
            f'{len(target)} target convs matched (min_similarity={min_similarity}); target '
            f'layer {layer.key!r} {layer.shape} has no compatible seed layer among '
            f'{len(seed)} seed convs' + ('' if seed else ' (the seed has no conv layers)'))
    out = {k: v.clone() for k, v in target_init.items()}
    used = {k: torch.zeros_like(v, dtype=torch.bool) for k, v in seed_sd.items()
            if torch.is_floating_point(v)}
    report = MappingReport(meta=dict(mode='cross_family', channels=channels,
                                     similarity=match.similarity,
                                     matched_layers=len(match.pairs),
                                     seed_layers=len(seed), target_layers=len(target)))
    done = set()
    for i, j, score in match.pairs:
        s, t = seed[i], target[j]
        w_s, w_t = seed_sd[s.key + '.weight'], target_init[t.key + '.weight']
        out_idx = _channel_index(w_s, 0, w_t.shape[0], channels)
        if s.depthwise:
            in_idx, g = out_idx, w_t.shape[0]
            g_s = w_s.shape[0]
        else:
            in_idx, g, g_s = _channel_index(w_s, 1, w_t.shape[1], channels), 1, 1
        tr = gather_conv(t.key, w_s, g_s, out_idx, in_idx, g, tuple(w_t.shape[2:]), w_t,
                         'init', used[s.key + '.weight'])
        tags = ['matched'] + tr.tags
        if out_idx.numel() < w_s.shape[0] or (not s.depthwise and in_idx.numel() < w_s.shape[1]):
            tags.append(f'select_{channels}')
        if (out_idx < 0).any() or (in_idx < 0).any():
            tags.append('widen_random')
        key = t.key + '.weight'
        out[key] = tr.value
        done.add(key)
        report.add(key, s.key + '.weight', tags, tr.value.shape, tr.copied, tr.synthesized,
                   tr.init)
        if s.norm and t.norm:
            for p in NORM_PARAMS:
                tk, sk = f'{t.norm}.{p}', f'{s.norm}.{p}'
                if tk in target_init and sk in seed_sd:
                    v = gather_vector(seed_sd[sk], out_idx, target_init[tk], used[sk])
                    out[tk] = v.value
                    done.add(tk)
                    report.add(tk, sk, ['matched'], v.value.shape, v.copied, v.synthesized,
                               v.init)
    for key, value in target_init.items():
        if key not in done and torch.is_floating_point(value):
            report.add(key, None, ['init'], value.shape, 0, 0, value.numel())
    report.seed_numel = sum(v.numel() for v in used.values())
    report.seed_used = sum(int(v.sum()) for v in used.values())
    return out, report, match
