"""Cheap metrics of a candidate backbone: FLOPs and params (exact) and predicted latency.

FLOPs and params are counted on the *standalone* exported backbone (the family's
``build_fixed_backbone``, e.g. an :class:`~detnas.models.backbones.AdaptedMobileNetV2`), so
they are those of the network that ``tools/train.py`` later fine-tunes (the elastic supernet
cannot be traced: its slices depend on input shapes). ``flops`` is mmengine's
``FlopAnalyzer`` total for one image of ``image_size`` (fvcore convention: one multiply-add
counts once, an affine BN two per output element; layers that feed no returned output drop
out of the traced graph).

Latency is predicted by a per-layer :class:`~detnas.nas.latency.LatencyTable`: every layer
has a signature (its family defines them, see :mod:`detnas.nas.families`); the prediction is
the sum over the arch's layers. The family's ``space_signatures`` lists every signature any
arch of the space can produce, so a table can be measured once before the search starts.
"""
from typing import Dict, List, Tuple

import torch

from detnas.utils.complexity import count_params, model_complexity
from ..families import SearchFamily
from ..latency import LatencyCase, LatencyTable
from ..space import Arch

COST_METRICS = ('flops', 'params', 'latency_ms')


class CandidateCost:
    """``arch -> {'flops', 'params', 'latency_ms'}`` with a cache keyed by fingerprint.

    Args:
        family: the bound family (its space and fixed backbones).
        image_size: input (height, width) for FLOPs and latency.
        table: the latency table (every signature measured beforehand, or with a factory).
    """

    def __init__(self, family: SearchFamily, image_size: Tuple[int, int], table: LatencyTable):
        self.family = family
        self.image_size = tuple(image_size)
        self.table = table
        self._cache: Dict[str, Dict[str, float]] = {}

    def __call__(self, arch: Arch) -> Dict[str, float]:
        key = self.family.space.fingerprint(arch)
        if key not in self._cache:
            model = self.family.build_fixed_backbone(arch)
            counts = model_complexity(model, self.image_size)
            latency = self.table.predict(self.family.layer_signatures(arch, self.image_size))
            self._cache[key] = dict(flops=float(counts['macs']),
                                    params=float(count_params(model)),
                                    latency_ms=float(latency))
        return dict(self._cache[key])


def latency_cases(family: SearchFamily, archs: Dict[str, Arch], image_size: Tuple[int, int]
                  ) -> List[LatencyCase]:
    """Whole standalone backbones to check the latency predictor on.

    Args:
        family: the bound family.
        archs: name -> arch.
        image_size: input (height, width).
    """
    return [LatencyCase(name, family.build_fixed_backbone(arch),
                        torch.zeros(1, 3, *image_size),
                        family.layer_signatures(arch, image_size))
            for name, arch in archs.items()]
