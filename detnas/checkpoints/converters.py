"""Key converters: foreign ImageNet checkpoints -> the key names of mmdet's backbones.

A converter takes a flat state dict in one *layout* (torchvision, timm, mmpretrain, mmdet)
of one *family* and returns a :class:`ConvertedCheckpoint`: the backbone tensors under
mmdet's names, the classifier as ``fc.weight`` / ``fc.bias`` (kept apart: detectors drop
it, the ImageNet sanity check uses it) and the keys that were left over. Each family's
package (:mod:`detnas.nas.families`) registers its layouts with :func:`register_converter`;
this module holds the machinery (:func:`apply_rules`, layout detection) and the ``mmdet``
layout every family shares (:func:`convert_mmdet`).
"""
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from torch import Tensor

from ..utils.errors import DetnasInputError

StateDict = Dict[str, Tensor]


@dataclass
class ConvertedCheckpoint:
    """A checkpoint in mmdet's backbone key names.

    Args:
        backbone: backbone tensors under the target backbone's names.
        classifier: ImageNet classifier tensors as ``fc.weight`` / ``fc.bias`` (may be empty).
        unused: source keys no rule mapped.
        layout: the source layout that was detected or given.
    """
    backbone: StateDict
    classifier: StateDict = field(default_factory=dict)
    unused: List[str] = field(default_factory=list)
    layout: str = ''


_CONVERTERS: Dict[Tuple[str, str], Callable[[StateDict], ConvertedCheckpoint]] = {}
# (family, layout, a key only that layout has), in registration order: detection takes the
# first that matches
_LAYOUT_SIGNATURES: List[Tuple[str, str, str]] = []


def register_converter(family: str, layout: str, signature: Optional[str] = None):
    """Decorator registering ``fn(state_dict) -> ConvertedCheckpoint`` for a family/layout.

    Args:
        family: the backbone family (``'mobilenet_v2'``).
        layout: the key layout it reads (``'torchvision'``).
        signature: a regex that fully matches a key only this layout of this family has;
            :func:`detect_layout` tries the signatures in registration order.
    """

    def wrap(fn):
        _CONVERTERS[(family, layout)] = fn
        if signature is not None:
            _LAYOUT_SIGNATURES.append((family, layout, signature))
        return fn

    return wrap


def apply_rules(state_dict: StateDict, rules: List[Tuple[str, Callable]], layout: str
                ) -> ConvertedCheckpoint:
    """Renames keys by the first matching (regex, fn(match) -> new key) rule.

    ``fn`` returning a key starting with ``'fc.'`` sends the tensor to the classifier.
    """
    out = ConvertedCheckpoint(backbone={}, layout=layout)
    compiled = [(re.compile(p), fn) for p, fn in rules]
    for key, value in state_dict.items():
        for pattern, fn in compiled:
            m = pattern.fullmatch(key)
            if m:
                new = fn(m)
                (out.classifier if new.startswith('fc.') else out.backbone)[new] = value
                break
        else:
            out.unused.append(key)
    return out


def convert_mmdet(sd: StateDict) -> ConvertedCheckpoint:
    """An mmdet backbone state dict (optionally under ``backbone.``): kept as is."""
    return apply_rules(sd, [
        (r'(?:backbone\.)?(fc\.(?:weight|bias))', lambda m: m.group(1)),
        (r'(?:backbone\.)?((?:conv|bn|layer)\w*\..+)', lambda m: m.group(1)),
    ], 'mmdet')


def unwrap_state_dict(checkpoint) -> StateDict:
    """Returns the flat tensor dict of a loaded checkpoint (``state_dict``/``model`` keys)."""
    if isinstance(checkpoint, dict):
        for key in ('state_dict', 'model', 'module'):
            if key in checkpoint and isinstance(checkpoint[key], dict):
                return unwrap_state_dict(checkpoint[key])
        sd = {k[7:] if k.startswith('module.') else k: v for k, v in checkpoint.items()
              if isinstance(v, Tensor)}
        if sd:
            return sd
    raise ValueError('the checkpoint holds no tensors (expected a state dict, or a dict '
                     "with 'state_dict' / 'model')")


def detect_layout(sd: StateDict) -> Tuple[str, str]:
    """Guesses (family, layout) from the keys; raises DetnasInputError when nothing fits."""
    for family, layout, signature in _LAYOUT_SIGNATURES:
        pattern = re.compile(signature)
        if any(pattern.fullmatch(k) for k in sd):
            return family, layout
    sample = ', '.join(list(sd)[:5])
    raise DetnasInputError(f'cannot tell the layout of this checkpoint (first keys: {sample}); '
                           f'known: {sorted(set((f, l) for f, l, _ in _LAYOUT_SIGNATURES))}')


def convert_checkpoint(sd: StateDict, family: Optional[str] = None,
                       layout: Optional[str] = None) -> ConvertedCheckpoint:
    """Converts a state dict to mmdet backbone names.

    Args:
        sd: flat state dict (see :func:`unwrap_state_dict`).
        family: a registered family (``'mobilenet_v2'``, ``'resnet'``); detected when
            omitted.
        layout: ``'torchvision'``, ``'timm'``, ``'mmpretrain'`` or ``'mmdet'``; detected
            when omitted.
    """
    if family is None or layout is None:
        found_family, found_layout = detect_layout(sd)
        family, layout = family or found_family, layout or found_layout
    try:
        fn = _CONVERTERS[(family, layout)]
    except KeyError:
        raise DetnasInputError(f'no converter for family {family!r} in layout {layout!r}; '
                               f'registered: {sorted(_CONVERTERS)}') from None
    return fn(sd)
