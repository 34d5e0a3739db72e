"""One entry point: map a seed checkpoint into a target architecture.

    >>> from detnas.nas.mapping import MappingConfig, map_weights
    >>> target = dict(type='AdaptedMobileNetV2', arch_setting=[...])
    >>> result = map_weights('detnas://mobilenet_v2_imagenet', target)
    >>> result.state_dict          # backbone tensors in the target's names
    >>> print(result.report.table())
    >>> result.save('work_dirs/mapped.pth', 'work_dirs/mapped_report.json')

The seed is a ``detnas://`` alias, a file, a raw state dict in any layout the converters know
(torchvision, timm, mmpretrain, mmdet) or a ``ConvertedCheckpoint``. The target is a
backbone config, a built backbone module, or an :class:`ArchSpec` with an initial state dict.
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, Optional

import torch
from torch import Tensor, nn

from .cross_family import CHANNEL_RULES, LayerMatch, map_across_families
from .errors import MappingError
from .report import MappingReport
from .selection import NARROW_RULES, WIDEN_RULES
from .spec import (ArchSpec, build_backbone, detect_family, infer_spec, init_state_dict,
                   spec_from_module)
from .within_family import DEEPEN_RULES, map_within_family

MODES = ('auto', 'within_family', 'cross_family')


@dataclass
class MappingConfig:
    """Rules of a mapping run.

    Args:
        mode: ``'within_family'`` (structural rules), ``'cross_family'`` (layer alignment),
            or ``'auto'`` (within when seed and target are of one family).
        narrow: which seed channels a narrower target keeps: ``'first_k'``, ``'l1'``
            (filter L1 norm) or ``'bn_gamma'`` (|BN gamma|).
        widen: how a wider target grows: ``'net2net'`` (replicate, function-preserving),
            ``'zero'`` (new channels zero, function-preserving) or ``'random'`` (keep init).
        deepen: ``'identity'`` (added blocks start as the identity, function-preserving) or
            ``'fna_copy'`` (added blocks copy the stage's last seed block).
        cross_channels: channel rule across families: ``'magnitude'`` or ``'first_k'``.
        min_similarity: across families, fail when the alignment similarity is lower.
        map_classifier: also map the seed's ImageNet classifier (``fc``) when it has one.
    """
    mode: str = 'auto'
    narrow: str = 'l1'
    widen: str = 'net2net'
    deepen: str = 'identity'
    cross_channels: str = 'magnitude'
    min_similarity: float = 0.0
    map_classifier: bool = True

    def __post_init__(self):
        for name, allowed in (('mode', MODES), ('narrow', NARROW_RULES),
                              ('widen', WIDEN_RULES), ('deepen', DEEPEN_RULES),
                              ('cross_channels', CHANNEL_RULES)):
            if getattr(self, name) not in allowed:
                raise MappingError(f'MappingConfig.{name}={getattr(self, name)!r} is unknown; '
                                   f'choose one of {allowed}')


@dataclass
class MappingResult:
    """What :func:`map_weights` returns.

    Args:
        state_dict: target backbone tensors (load with ``backbone.load_state_dict``).
        classifier: the mapped ImageNet classifier (``fc.weight``/``fc.bias``) or {}.
        report: the per-tensor report.
        match: the layer alignment (cross-family runs only).
    """
    state_dict: Dict[str, Tensor]
    classifier: Dict[str, Tensor] = field(default_factory=dict)
    report: MappingReport = field(default_factory=MappingReport)
    match: Optional[LayerMatch] = None

    def save(self, checkpoint: Optional[str] = None, report_json: Optional[str] = None,
             prefix: str = '') -> None:
        """Writes ``{'state_dict': ..., 'meta': ...}`` (keys under ``prefix``, e.g.
        ``'backbone.'`` for a detector's ``load_from``) and/or the report JSON."""
        if checkpoint:
            if osp.dirname(checkpoint):
                os.makedirs(osp.dirname(checkpoint), exist_ok=True)
            sd = {prefix + k: v for k, v in self.state_dict.items()}
            torch.save(dict(state_dict=sd, classifier=self.classifier,
                            meta=dict(mapping=self.report.totals(), **self.report.meta)),
                       checkpoint)
        if report_json:
            self.report.save_json(report_json)

    @classmethod
    def load(cls, checkpoint: str, report_json: str, prefix: str = '') -> 'MappingResult':
        """A result written by :meth:`save` (the layer match of a cross-family run is not
        saved, so it comes back as None).

        Args:
            checkpoint: the ``.pth`` file :meth:`save` wrote.
            report_json: the report file :meth:`save` wrote.
            prefix: the key prefix the checkpoint was saved with.
        """
        saved = torch.load(checkpoint, map_location='cpu', weights_only=True)
        state = {k[len(prefix):]: v for k, v in saved['state_dict'].items()
                 if k.startswith(prefix)}
        with open(report_json) as f:
            report = MappingReport.from_dict(json.load(f))
        return cls(state, saved.get('classifier', {}), report)


def resolve_seed_state(seed, family: Optional[str]):
    """A seed given in any supported form, as (backbone state dict in mmdet names,
    classifier dict, source description).

    Args:
        seed: a path or detnas:// alias, a ConvertedCheckpoint, a module or a state dict.
        family: the seed family (``mobilenet_v2``, ``resnet``) or None to detect it.
    """
    from detnas.checkpoints.converters import (ConvertedCheckpoint, convert_checkpoint,
                                            unwrap_state_dict)
    if isinstance(seed, str):
        from detnas.checkpoints.sources import load_seed
        conv = load_seed(seed, family=family)
        return conv.backbone, conv.classifier, seed
    if isinstance(seed, ConvertedCheckpoint):
        return seed.backbone, seed.classifier, f'checkpoint ({seed.layout})'
    if isinstance(seed, nn.Module):
        return ({k: v.detach() for k, v in seed.state_dict().items()}, {},
                type(seed).__name__)
    if isinstance(seed, dict):
        sd = unwrap_state_dict(seed)
        try:
            detect_family(sd)
            fc = {k: sd[k] for k in ('fc.weight', 'fc.bias') if k in sd}
            return {k: v for k, v in sd.items() if not k.startswith('fc.')}, fc, 'state dict'
        except MappingError:
            pass
        try:
            conv = convert_checkpoint(sd, family)
        except (KeyError, ValueError):  # an unknown layout: used as is (cross-family aligns it)
            return sd, {}, 'state dict (unknown layout)'
        return conv.backbone, conv.classifier, f'state dict ({conv.layout})'
    raise MappingError(f'seed must be a path, a detnas:// alias, a state dict, a '
                       f'ConvertedCheckpoint or a module; got {type(seed).__name__}')


def _target(target, target_state: Optional[Dict[str, Tensor]]):
    """-> (spec or None, initial state dict)."""
    if isinstance(target, ArchSpec):
        if target_state is None:
            raise MappingError('a target ArchSpec needs target_state (its initial state '
                               'dict); or pass a backbone config or module instead')
        return target, target_state
    if isinstance(target, dict):
        target = build_backbone(target)
    if not isinstance(target, nn.Module):
        raise MappingError(f'target must be a backbone config dict, a module or an ArchSpec; '
                           f'got {type(target).__name__}')
    state = target_state if target_state is not None else init_state_dict(target)
    try:
        spec = spec_from_module(target)
    except MappingError:
        spec = None
    return spec, state


def map_weights(seed, target, config: Optional[MappingConfig] = None,
                target_state: Optional[Dict[str, Tensor]] = None,
                seed_family: Optional[str] = None) -> MappingResult:
    """Maps a pretrained seed into a target backbone.

    Args:
        seed: ``detnas://`` alias, path/URL, state dict (any known layout),
            ``ConvertedCheckpoint`` or module.
        target: backbone config dict, backbone module, or :class:`ArchSpec`.
        config: mapping rules (defaults: ``MappingConfig()``).
        target_state: the target's initial tensors (default: the module's freshly
            initialised state); unmapped tensors keep them.
        seed_family: ``'mobilenet_v2'``/``'resnet'`` when detection cannot tell.

    Returns:
        :class:`MappingResult` with the target state dict, the mapped classifier and the
        report.
    """
    config = config or MappingConfig()
    seed_sd, classifier, source = resolve_seed_state(seed, seed_family)
    seed_sd = {k: v.detach() for k, v in seed_sd.items()}
    target_spec, target_init = _target(target, target_state)
    seed_spec = None
    if config.mode != 'cross_family':
        try:
            seed_spec = infer_spec(seed_sd, seed_family, classifier=classifier)
        except MappingError:
            if config.mode == 'within_family':
                raise
    within = (seed_spec is not None and target_spec is not None
              and seed_spec.family == target_spec.family)
    if config.mode == 'within_family' and not within:
        raise MappingError(
            f'mode=within_family needs seed and target of one family; the seed is '
            f'{seed_spec.family if seed_spec else "unknown"} and the target '
            f'{target_spec.family if target_spec else "unknown"}; use mode=cross_family')
    if within:
        sd, fc, report = map_within_family(
            seed_sd, seed_spec, target_init, target_spec, config.narrow, config.widen,
            config.deepen, classifier if config.map_classifier else None)
        match = None
    else:
        sd, report, match = map_across_families(seed_sd, target_init, config.cross_channels,
                                                config.min_similarity)
        fc = {}
    report.meta.update(seed=source, config=asdict(config),
                       seed_family=seed_spec.family if seed_spec else None,
                       target_family=target_spec.family if target_spec else None)
    return MappingResult(sd, fc, report, match)
