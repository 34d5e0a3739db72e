"""Uniform scaling of a seed to a FLOPs budget: the baseline an adapted backbone must beat.

``width`` scales every stage's channels (MobileNetV2's width multiplier), ``compound``
scales width and depth together as EfficientNet does (depth ``1.2 ** phi``, width
``1.1 ** phi``; ``phi < 0`` shrinks). The multiplier is found by bisection on the
standalone backbone's FLOPs (the same count the search's cost model uses); widths are
rounded by the family, so the result is the evaluated multiplier whose FLOPs are closest to
the target.
"""
from dataclasses import dataclass
from typing import Tuple

from mmdet.registry import MODELS

from detnas.utils.complexity import model_complexity
from detnas.utils.errors import DetnasInputError
from .families import SearchFamily

MODES = ('width', 'compound')
DEPTH_BASE, WIDTH_BASE = 1.2, 1.1  # EfficientNet's compound coefficients (alpha, beta)


@dataclass(frozen=True)
class UniformScaling:
    """A uniformly scaled seed.

    Args:
        backbone: the fixed backbone config.
        flops: its FLOPs (multiply-adds, as the search counts them).
        width: the width multiplier.
        depth: the depth multiplier.
    """
    backbone: dict
    flops: float
    width: float
    depth: float


def multipliers(mode: str, phi: float) -> Tuple[float, float]:
    """(width, depth) of scaling coefficient ``phi`` (``width``: ``phi`` is the width)."""
    if mode == 'width':
        return phi, 1.0
    if mode == 'compound':
        return WIDTH_BASE ** phi, DEPTH_BASE ** phi
    raise DetnasInputError(f'uniform scaling mode {mode!r} is unknown; choose one of {MODES}')


def scaled(family: SearchFamily, mode: str, phi: float, image_size: Tuple[int, int],
           divisor: int = 8) -> UniformScaling:
    """The seed scaled with coefficient ``phi`` (widths multiples of ``divisor``) and its
    FLOPs."""
    width, depth = multipliers(mode, phi)
    backbone = family.uniform_backbone_config(width, depth, divisor)
    model = MODELS.build(dict(backbone, frozen_stages=-1)).eval()
    return UniformScaling(backbone, float(model_complexity(model, image_size)['macs']), width,
                          depth)


def scale_to_flops(family: SearchFamily, target_flops: float, image_size: Tuple[int, int],
                   mode: str = 'width', steps: int = 24, divisor: int = 8) -> UniformScaling:
    """The uniformly scaled seed whose FLOPs are closest to ``target_flops``.

    Args:
        family: the bound family (its seed is scaled).
        target_flops: the budget (multiply-adds of the backbone at ``image_size``).
        image_size: (height, width).
        mode: ``'width'`` or ``'compound'``.
        steps: bisection steps.
        divisor: widths are multiples of it (the family's rounding is 8; a smaller one
            lands closer to the target between 8's steps).
    """
    lo, hi = (0.05, 2.0) if mode == 'width' else (-12.0, 6.0)
    seen = []
    for _ in range(steps):
        mid = (lo + hi) / 2
        point = scaled(family, mode, mid, image_size, divisor)
        seen.append(point)
        if point.flops < target_flops:
            lo = mid
        else:
            hi = mid
    return min(seen, key=lambda p: abs(p.flops - target_flops))
