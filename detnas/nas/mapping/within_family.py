"""Mapping between two architectures of one family (same block type, other shape).

Blocks correspond stage by stage: a target block ``j`` takes seed block ``j``; blocks past
the seed's depth copy the stage's last seed block (``deepen='fna_copy'``, the FNA rule) and,
with ``deepen='identity'``, also zero the BN closing their residual branch so that the block
starts as the identity (function-preserving). Convs correspond by role inside blocks;
channels by :class:`~.selection.SpaceSelector` (consistent per channel space); kernels by
centre crop / zero padding; groups by the block-diagonal rule of :func:`~.tensors.gather_conv`.
A conv the seed lacks (an added expansion conv, a new shortcut projection) starts as the
identity of its channel space when that is defined, otherwise keeps its initialisation.
"""
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from .errors import MappingError
from .report import MappingReport
from .selection import SpaceSelector
from .spec import INPUT_SPACE, ArchSpec, ConvNode, identity_weight
from .tensors import Transfer, gather_conv, gather_vector

DEEPEN_RULES = ('identity', 'fna_copy')
NORM_PARAMS = ('weight', 'bias', 'running_mean', 'running_var')
# a zero-filled channel stays exactly zero through a BN with these entries
NEUTRAL_NORM = dict(weight=1.0, bias=0.0, running_mean=0.0, running_var=1.0)


def _is_float(t: Tensor) -> bool:
    return torch.is_floating_point(t)


def block_sources(seed: ArchSpec, target: ArchSpec, deepen: str
                  ) -> Dict[str, Tuple[str, Optional[str]]]:
    """Target block -> (seed block, deepening rule or None for a kept block)."""
    s_stages, t_stages = seed.stages(), target.stages()
    if len(s_stages) != len(t_stages):
        raise MappingError(f'the target has {len(t_stages)} stages and the seed '
                           f'{len(s_stages)}; mapping within a family needs the same number '
                           "of stages (use mode='cross_family' for other layouts)")
    out = {}
    for s_blocks, t_blocks in zip(s_stages, t_stages):
        for b in t_blocks:
            if b.index < len(s_blocks):
                out[b.name] = (s_blocks[b.index].name, None)
            else:
                if deepen == 'identity' and not b.residual:
                    raise MappingError(f'block {b.name!r} is added beyond the seed depth but '
                                       'has no identity shortcut, so it cannot start as the '
                                       "identity; use deepen='fna_copy'")
                out[b.name] = (s_blocks[-1].name, deepen)
    return out


def space_sources(seed: ArchSpec, target: ArchSpec,
                  blocks: Optional[Dict[str, Tuple[str, Optional[str]]]] = None
                  ) -> Dict[str, str]:
    """Target channel space -> the seed space its channels come from: the space of the
    seed conv with the same role in the source block (:func:`block_sources`), outputs
    first, then inputs.

    Args:
        seed: the seed's spec.
        target: the target's spec.
        blocks: :func:`block_sources` of the pair (computed with ``'identity'`` when None).
    """
    blocks = blocks if blocks is not None else block_sources(seed, target, 'identity')
    out = {INPUT_SPACE: INPUT_SPACE}
    for attr in ('out_space', 'in_space'):
        for tc in target.convs:
            sc = seed.find(blocks[tc.block][0] if tc.block else None, tc.role)
            if sc is not None:
                out.setdefault(getattr(tc, attr), getattr(sc, attr))
    return out


def stage_ends(seed: ArchSpec, target: ArchSpec) -> Dict[str, dict]:
    """The target blocks that end a stage the seed had deeper, when their output is affine in
    their closing conv (``BlockNode.linear_out``): block name -> ``{'block': that name,
    'seed_output': seed stage module, 'dropped': seed blocks past the target's depth,
    'norm': the closing BN, 'residual': bool}``. The refit (:mod:`.refit`) fits such a
    closing conv to the seed *stage* output, so that the kept block also stands in for the
    dropped ones."""
    out = {}
    for s_blocks, t_blocks in zip(seed.stages(), target.stages()):
        last = t_blocks[-1]
        if len(s_blocks) > len(t_blocks) and last.linear_out and last.out_norm:
            out[last.name] = dict(block=last.name,
                                  seed_output=s_blocks[-1].name.rsplit('.', 1)[0],
                                  dropped=[b.name for b in s_blocks[len(t_blocks):]],
                                  norm=last.out_norm, residual=last.residual)
    return out


def map_within_family(seed_sd: Dict[str, Tensor], seed_spec: ArchSpec,
                      target_init: Dict[str, Tensor], target_spec: ArchSpec,
                      narrow: str = 'l1', widen: str = 'net2net', deepen: str = 'identity',
                      seed_classifier: Optional[Dict[str, Tensor]] = None,
                      bn_eps: float = 1e-5
                      ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor], MappingReport]:
    """Maps a seed state dict into a target of the same family.

    Args:
        seed_sd: seed backbone state dict (mmdet names).
        seed_spec: its architecture.
        target_init: the target's initial state dict (unmapped tensors keep these values).
        target_spec: the target architecture.
        narrow: ``'first_k'``, ``'l1'`` or ``'bn_gamma'``.
        widen: ``'net2net'``, ``'zero'`` or ``'random'``.
        deepen: ``'identity'`` or ``'fna_copy'``.
        seed_classifier: optional ``fc.weight``/``fc.bias``; mapped onto the target's last
            channel space when given.
        bn_eps: BN epsilon of the target (identity-initialised BNs use ``var = 1 - eps``).

    Returns:
        (target state dict, mapped classifier or {}, report)
    """
    if deepen not in DEEPEN_RULES:
        raise MappingError(f'deepen={deepen!r} is unknown; choose one of {DEEPEN_RULES}')
    if seed_spec.family != target_spec.family:
        raise MappingError(f'the seed is a {seed_spec.family} and the target a '
                           f'{target_spec.family}; map across families with '
                           "mode='cross_family'")
    seed_spec.check_state_dict(seed_sd, 'seed')
    target_spec.check_state_dict(target_init, 'target')
    fill = 'init' if widen == 'random' else 'zero'
    blocks = block_sources(seed_spec, target_spec, deepen)
    ends = stage_ends(seed_spec, target_spec)
    sources: Dict[str, Optional[ConvNode]] = {}
    for tc in target_spec.convs:
        src_block = blocks[tc.block][0] if tc.block else None
        sources[tc.key] = seed_spec.find(src_block, tc.role)
    primary = space_sources(seed_spec, target_spec, blocks)
    selector = SpaceSelector(seed_sd, seed_spec, target_spec, narrow, widen)

    out = {k: v.clone() for k, v in target_init.items()}
    used = {k: torch.zeros_like(v, dtype=torch.bool) for k, v in seed_sd.items() if _is_float(v)}
    report = MappingReport(meta=dict(
        mode='within_family', family=target_spec.family, narrow=narrow, widen=widen,
        deepen=deepen))
    done = set()

    def record(key, source, tags, transfer):
        out[key] = transfer.value
        done.add(key)
        report.add(key, source, list(tags) + transfer.tags, transfer.value.shape,
                   transfer.copied, transfer.synthesized, transfer.init)

    for tc in target_spec.convs:
        sc = sources[tc.key]
        block_rule = blocks[tc.block][1] if tc.block else None
        if sc is None:
            s_in, s_out = primary.get(tc.in_space), primary.get(tc.out_space)
            if tc.identity_init and s_in is not None and s_in == s_out:
                _identity_conv(tc, seed_spec.spaces[s_in], selector(tc.in_space, s_in),
                               selector(tc.out_space, s_out), out, target_init, fill, bn_eps,
                               record)
            continue  # unmatched: keeps its init (recorded below)
        in_sel = selector(tc.in_space, sc.in_space)
        out_sel = selector(tc.out_space, sc.out_space)
        tags = list(in_sel.tags + out_sel.tags)
        if block_rule:
            tags.insert(0, 'fna_copy')
        if tc.groups != sc.groups and not (tc.depthwise and sc.depthwise):
            tags.append('regroup')
        if tc.dilation != sc.dilation:
            tags.append('dilation')
        w = tc.key + '.weight'
        report.channel_maps[tc.key] = dict(source=sc.key, out_index=out_sel.index.tolist(),
                                           added_block=block_rule is not None)
        if tc.block in ends and tc.norm == ends[tc.block]['norm']:
            report.channel_maps[tc.key]['stage_end'] = ends[tc.block]
        record(w, sc.key + '.weight', tags,
               gather_conv(tc.key, seed_sd[sc.key + '.weight'], sc.groups, out_sel.index,
                           in_sel.index, tc.groups, tc.kernel_size, target_init[w], fill,
                           used[sc.key + '.weight']))
        pairs = [(tc.key + '.bias', sc.key + '.bias', 0.0)] if tc.bias and sc.bias else []
        if tc.norm and sc.norm:
            pairs += [(f'{tc.norm}.{p}', f'{sc.norm}.{p}', NEUTRAL_NORM[p])
                      for p in NORM_PARAMS]
            nbt = f'{tc.norm}.num_batches_tracked'
            if nbt in out and f'{sc.norm}.num_batches_tracked' in seed_sd:
                out[nbt] = seed_sd[f'{sc.norm}.num_batches_tracked'].clone()
        for t_key, s_key, neutral in pairs:
            if t_key in target_init and s_key in seed_sd:
                record(t_key, s_key, out_sel.tags + (('fna_copy', ) if block_rule else ()),
                       gather_vector(seed_sd[s_key], out_sel.index, target_init[t_key],
                                     used[s_key], neutral if fill == 'zero' else None))

    for b in target_spec.blocks:  # identity deepening: the residual branch outputs zero
        if blocks[b.name][1] == 'identity' and b.out_norm:
            for p in ('weight', 'bias'):
                key = f'{b.out_norm}.{p}'
                rec = next((r for r in report.records if r.key == key), None)
                if rec is None:  # the seed block had no such BN: nothing to zero
                    continue
                out[key] = torch.zeros_like(out[key])
                rec.rule = rec.rule.replace('fna_copy', 'identity_block')
                rec.synthesized, rec.copied, rec.init = rec.numel, 0, 0

    for key, value in target_init.items():
        if key not in done and _is_float(value):
            report.add(key, None, ['init'], value.shape, 0, 0, value.numel())

    classifier = {}
    if seed_classifier and seed_spec.head is not None:
        classifier = _map_head(seed_spec, target_spec, seed_classifier, selector, primary,
                               used, report)
    report.seed_numel = sum(v.numel() for k, v in used.items())
    report.seed_used = sum(int(v.sum()) for v in used.values())
    return out, classifier, report


def _identity_conv(tc: ConvNode, n: int, in_sel, out_sel, out, target_init, fill, bn_eps,
                   record) -> None:
    """An added 1x1 conv (expansion, shortcut projection) set to the identity of its space."""
    if tc.kernel_size != (1, 1) or tc.groups != 1:
        return
    w = tc.key + '.weight'
    t = gather_conv(tc.key, identity_weight(n), 1, out_sel.index, in_sel.index, 1, (1, 1),
                    target_init[w], fill)
    t.synthesized, t.copied = t.synthesized + t.copied, 0
    record(w, None, ['identity_conv'], t)
    if tc.norm:
        c = tc.out_channels
        values = dict(weight=torch.ones(c), bias=torch.zeros(c), running_mean=torch.zeros(c),
                      running_var=torch.full((c, ), 1.0 - bn_eps))
        for p, v in values.items():
            key = f'{tc.norm}.{p}'
            if key in target_init:
                record(key, None, ['identity_conv'], Transfer(v, 0, c, 0))


def _map_head(seed_spec, target_spec, seed_classifier, selector, primary, used, report):
    """The classifier on the target's last space (its input channels follow that space)."""
    last = target_spec.convs[-1].out_space
    s_space = primary.get(last)
    if s_space != seed_spec.head.in_space:
        return {}
    sel = selector(last, s_space)
    w = seed_classifier['fc.weight']
    n_out = w.shape[0]
    init = torch.zeros(n_out, target_spec.spaces[last], 1, 1)
    used_w = torch.zeros(*w.shape, 1, 1, dtype=torch.bool)
    t = gather_conv('fc', w[:, :, None, None], 1, torch.arange(n_out), sel.index, 1, (1, 1),
                    init, 'zero', used_w)
    t.value = t.value[:, :, 0, 0]
    report.add('fc.weight', 'fc.weight', ['classifier', *sel.tags], t.value.shape, t.copied,
               t.synthesized, t.init)
    out = {'fc.weight': t.value}
    if 'fc.bias' in seed_classifier:
        out['fc.bias'] = seed_classifier['fc.bias'].clone()
        report.add('fc.bias', 'fc.bias', ['classifier'], out['fc.bias'].shape, n_out, 0, 0)
        used['fc.bias'] = torch.ones(n_out, dtype=torch.bool)
    used['fc.weight'] = used_w[:, :, 0, 0]
    return out
