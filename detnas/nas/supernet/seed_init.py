"""Seed weights for a supernet backbone: map, then order channels by importance.

1. The seed checkpoint is mapped into the largest sub-net with the within-family rules of
   :func:`detnas.nas.mapping.map_weights`: kernels zero-padded (function-preserving), added
   blocks as the identity (their closing BN zeroed), added channels (``widen='random'``)
   keeping their random init.
2. Every consumer's weights on added channels are zeroed, so added channels never change a
   sub-net's function: the seed sub-net stays the seed and the added channels still learn
   (their own filters are random, not zero).
3. In every channel space the seed's channels are sorted by importance (L1 norm of the
   filters writing the space, summed over all writers: a residual chain is ordered once,
   consistently) and the added channels go last. The permutation is applied to every tensor
   reading or writing the space, so the network computes the same function.
"""
from typing import Dict, Tuple

import torch
from torch import Tensor, nn

from ..mapping import MappingConfig, map_weights
from ..mapping.api import resolve_seed_state
from ..mapping.report import MappingReport
from ..mapping.selection import space_importance
from ..mapping.spec import INPUT_SPACE, ArchSpec, infer_spec, module_meta
from ..mapping.within_family import space_sources

SUPERNET_MAPPING = MappingConfig(mode='within_family', narrow='first_k', widen='random',
                                 deepen='identity', map_classifier=False)


def _permute(sd: Dict[str, Tensor], spec: ArchSpec, perms: Dict[str, Tensor],
             n_seed: Dict[str, int]) -> Dict[str, Tensor]:
    sd = dict(sd)
    for conv in spec.convs:
        key = conv.key + '.weight'
        w = sd[key]
        if conv.out_space in perms:
            p = perms[conv.out_space]
            w = w[p]
            vectors = [conv.key + '.bias'] + ([f'{conv.norm}.{n}' for n in (
                'weight', 'bias', 'running_mean', 'running_var')] if conv.norm else [])
            for v in vectors:
                if v in sd:
                    sd[v] = sd[v][p].clone()
        if not conv.depthwise and conv.in_space in perms:
            w = w[:, perms[conv.in_space]].clone()
            w[:, n_seed[conv.in_space]:] = 0  # added input channels: no influence
        sd[key] = w.clone()
    return sd


def map_seed_into_supernet(supernet: nn.Module, seed
                           ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor], MappingReport]:
    """Seed weights for a supernet backbone (an :class:`~.backbone.ElasticBackbone`).

    Args:
        supernet: the supernet (its current tensors are the init of added channels and of
            everything outside :meth:`mapped_state_dict`).
        seed: ``detnas://`` alias, path, state dict or module of the seed backbone.

    Returns:
        (state dict for ``supernet.load_state_dict``, per stage ``'stage{s}'`` and per
        :attr:`extra_output_convs` name the seed channel of each output channel (-1:
        added), mapping report)
    """
    family = supernet.seed_family
    seed_sd, _, source = resolve_seed_state(seed, family)
    seed_sd = {k: v.detach() for k, v in seed_sd.items()}
    seed_spec = infer_spec(seed_sd, family)
    supernet.check_seed(seed_spec, source)
    init = supernet.mapped_state_dict()
    target_spec = infer_spec(init, family, module_meta(supernet))
    result = map_weights(seed_sd, target_spec, SUPERNET_MAPPING, target_state=init)

    sources = space_sources(seed_spec, target_spec)
    perms, n_seed = {}, {}
    for t, s in sources.items():
        if t == INPUT_SPACE:
            continue
        n_s, n_t = seed_spec.spaces[s], target_spec.spaces[t]
        ranked = torch.argsort(space_importance(seed_sd, seed_spec, s, 'l1'),
                               descending=True, stable=True)
        perms[t] = torch.cat([ranked, torch.arange(n_s, n_t)])
        n_seed[t] = n_s
    state = {k: v.detach().clone() for k, v in supernet.state_dict().items()}
    state.update(_permute(result.state_dict, target_spec, perms, n_seed))

    outputs = {f'stage{s}': space for s, space in target_spec.stage_output_spaces().items()}
    outputs.update({name: target_spec.conv(key).out_space
                    for name, key in supernet.extra_output_convs.items()})
    orders = {name: _seed_index(perms[space], n_seed[space]) for name, space in outputs.items()}
    return state, orders, result.report


def _seed_index(perm: Tensor, n_seed: int) -> Tensor:
    return torch.where(perm < n_seed, perm, torch.full_like(perm, -1))
