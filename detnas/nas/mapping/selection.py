"""Which seed channels a target channel space keeps, by importance, consistently.

A :class:`Selection` maps each target channel of a space to a seed channel (or -1 for a
new one). It is computed once per (target space, seed space) pair and shared by every
tensor touching that pair, so a conv's kept output channels are the next conv's kept
input channels, the BN entries kept, and the residual partners' channels.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from .errors import MappingError
from .spec import ArchSpec

NARROW_RULES = ('first_k', 'l1', 'bn_gamma')
WIDEN_RULES = ('net2net', 'zero', 'random')


@dataclass
class Selection:
    """Target -> seed channel index of one space.

    Args:
        index: (n_target,) seed channel per target channel, -1 for a new channel.
        n_seed: channels of the seed space.
        tags: the rules applied (``'select'``, ``'widen_net2net'``, ...); empty = identity.
    """
    index: Tensor
    n_seed: int
    tags: Tuple[str, ...] = ()


def select_channels(n_target: int, n_seed: int, importance: Optional[Tensor] = None,
                    narrow: str = 'l1', widen: str = 'net2net') -> Selection:
    """Chooses seed channels for a target space.

    Args:
        n_target: target channels.
        n_seed: seed channels.
        importance: (n_seed,) scores; required unless ``narrow == 'first_k'``.
        narrow: ``'first_k'`` keeps the first channels, ``'l1'``/``'bn_gamma'`` the highest
            scored (in their original order).
        widen: ``'net2net'`` replicates channels (highest scored first; function-preserving
            with the divided outgoing weights), ``'zero'``/``'random'`` add new channels.
    """
    if narrow not in NARROW_RULES:
        raise MappingError(f'narrow={narrow!r} is unknown; choose one of {NARROW_RULES}')
    if widen not in WIDEN_RULES:
        raise MappingError(f'widen={widen!r} is unknown; choose one of {WIDEN_RULES}')
    if n_target <= 0:
        raise MappingError(f'a target channel space has {n_target} channels; it needs >= 1')
    ranked = narrow != 'first_k' and importance is not None
    if n_target == n_seed:
        return Selection(torch.arange(n_seed), n_seed)
    if n_target < n_seed:
        if not ranked:
            return Selection(torch.arange(n_target), n_seed, ('select',))
        keep = torch.topk(importance, n_target, sorted=False).indices.sort().values
        return Selection(keep, n_seed, ('select',))
    extra = n_target - n_seed
    if widen == 'net2net':
        order = (torch.argsort(importance, descending=True, stable=True) if ranked
                 else torch.arange(n_seed))
        extras = order[torch.arange(extra) % n_seed]
    else:
        extras = torch.full((extra, ), -1, dtype=torch.long)
    return Selection(torch.cat([torch.arange(n_seed), extras]), n_seed, (f'widen_{widen}', ))


def space_importance(sd: Dict[str, Tensor], spec: ArchSpec, space: str, rule: str) -> Tensor:
    """Per-channel importance of a seed space, summed over every conv writing it (each
    normalised by its mean): L1 norm of the output filters, or |BN gamma|."""
    n = spec.spaces[space]
    score = torch.zeros(n)
    for conv in spec.producers(space):
        if rule == 'bn_gamma' and conv.norm and conv.norm + '.weight' in sd:
            s = sd[conv.norm + '.weight'].detach().abs().float()
        else:
            s = sd[conv.key + '.weight'].detach().abs().float().flatten(1).sum(1)
        score += s / s.mean().clamp(min=1e-12)
    return score


class SpaceSelector:
    """Caches one :class:`Selection` per (target space, seed space) pair.

    Args:
        seed_sd: seed state dict.
        seed_spec: seed architecture.
        target_spec: target architecture.
        narrow: narrowing rule (see :func:`select_channels`).
        widen: widening rule.
    """

    def __init__(self, seed_sd: Dict[str, Tensor], seed_spec: ArchSpec,
                 target_spec: ArchSpec, narrow: str = 'l1', widen: str = 'net2net'):
        self.seed_sd, self.seed_spec, self.target_spec = seed_sd, seed_spec, target_spec
        self.narrow, self.widen = narrow, widen
        self._cache: Dict[Tuple[str, str], Selection] = {}
        self._importance: Dict[str, Tensor] = {}

    def importance(self, seed_space: str) -> Optional[Tensor]:
        if self.narrow == 'first_k':
            return None
        if seed_space not in self._importance:
            self._importance[seed_space] = space_importance(
                self.seed_sd, self.seed_spec, seed_space, self.narrow)
        return self._importance[seed_space]

    def __call__(self, target_space: str, seed_space: str) -> Selection:
        key = (target_space, seed_space)
        if key not in self._cache:
            self._cache[key] = select_channels(
                self.target_spec.spaces[target_space], self.seed_spec.spaces[seed_space],
                self.importance(seed_space), self.narrow, self.widen)
        return self._cache[key]
