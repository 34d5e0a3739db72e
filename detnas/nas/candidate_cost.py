"""Cheap metrics of a candidate backbone: FLOPs and params (exact) and predicted latency.

FLOPs and params are counted on the *standalone* exported backbone
(e.g. :class:`~detnas.models.backbones.AdaptedMobileNetV2`, built from
:func:`~detnas.nas.export.adapted_backbone_config`), so they are those of the network that
``tools/train.py`` later fine-tunes (the elastic supernet cannot be traced: its slices depend
on input shapes). ``flops`` is mmengine's ``FlopAnalyzer`` total for one image of
``image_size`` (fvcore convention: one multiply-add counts once, an affine BN two per output
element; layers that feed no returned output drop out of the traced graph).

Latency is predicted by a per-layer :class:`~detnas.nas.latency.LatencyTable`: every layer
has a signature (its family defines them, see :mod:`detnas.nas.families`); the prediction is
the sum over the arch's layers. :func:`space_signatures` lists every signature any arch of a space
can produce, so a table can be measured once before the search starts.
"""
from typing import Dict, Iterable, List, Tuple

import torch
from torch import nn

from detnas.utils.complexity import count_params, model_complexity
from .export import adapted_backbone_config
from .families import family_of
from .latency import LatencyCase, LatencyTable, Signature
from .space import Arch, StagedSearchSpace


def fixed_backbone(backbone_cfg: dict, arch: Arch) -> nn.Module:
    """The standalone backbone of ``arch`` (random weights; for counting and timing).

    Args:
        backbone_cfg: the supernet backbone config.
        arch: an arch of its space.
    """
    import detnas.models  # noqa: F401  (registers the fixed backbones)
    from mmdet.registry import MODELS
    fixed = adapted_backbone_config(backbone_cfg, arch)
    fixed.pop('frozen_stages', None)
    return MODELS.build(fixed).eval()


def layer_signatures(backbone_cfg: dict, arch: Arch, image_size: Tuple[int, int]
                     ) -> List[Signature]:
    """One latency signature per layer of the standalone backbone of ``arch``.

    Args:
        backbone_cfg: the supernet backbone config.
        arch: an arch of its space.
        image_size: input (height, width).
    """
    return family_of(backbone_cfg, supernet=True).layer_signatures(backbone_cfg, arch,
                                                                    image_size)


def space_signatures(space: StagedSearchSpace, backbone_cfg: dict,
                     image_size: Tuple[int, int]) -> List[Signature]:
    """Every layer signature an arch of ``space`` can have (sorted, no duplicates).

    Args:
        space: the search space.
        backbone_cfg: the supernet backbone config.
        image_size: input (height, width).
    """
    return family_of(backbone_cfg, supernet=True).space_signatures(space, backbone_cfg,
                                                                    image_size)


def layer_factory(backbone_cfg: dict):
    """A :class:`LatencyTable` factory building the layer of a signature and its input.

    Args:
        backbone_cfg: the supernet backbone config (its norm/act configs).
    """
    return family_of(backbone_cfg, supernet=True).layer_factory(backbone_cfg)


class CandidateCost:
    """``arch -> {'flops', 'params', 'latency_ms'}`` with a cache keyed by fingerprint.

    Args:
        space: the search space.
        backbone_cfg: the supernet backbone config.
        image_size: input (height, width) for FLOPs and latency.
        table: the latency table (every signature measured beforehand, or with a factory).
    """

    def __init__(self, space: StagedSearchSpace, backbone_cfg: dict, image_size: Tuple[int, int],
                 table: LatencyTable):
        self.space = space
        self.backbone_cfg = backbone_cfg
        self.image_size = tuple(image_size)
        self.table = table
        self._cache: Dict[str, Dict[str, float]] = {}

    def __call__(self, arch: Arch) -> Dict[str, float]:
        key = self.space.fingerprint(arch)
        if key not in self._cache:
            model = fixed_backbone(self.backbone_cfg, arch)
            counts = model_complexity(model, self.image_size)
            latency = self.table.predict(layer_signatures(self.backbone_cfg, arch,
                                                          self.image_size))
            self._cache[key] = dict(flops=float(counts['macs']),
                                    params=float(count_params(model)),
                                    latency_ms=float(latency))
        return dict(self._cache[key])


def latency_cases(backbone_cfg: dict, archs: Dict[str, Arch], image_size: Tuple[int, int]
                  ) -> List[LatencyCase]:
    """Whole standalone backbones to check the latency predictor on.

    Args:
        backbone_cfg: the supernet backbone config.
        archs: name -> arch.
        image_size: input (height, width).
    """
    return [LatencyCase(name, fixed_backbone(backbone_cfg, arch),
                        torch.zeros(1, 3, *image_size),
                        layer_signatures(backbone_cfg, arch, image_size))
            for name, arch in archs.items()]


def missing_signatures(table: LatencyTable, signatures: Iterable[Signature]) -> List[Signature]:
    """Signatures not yet in ``table``."""
    return [s for s in signatures if s not in table]
