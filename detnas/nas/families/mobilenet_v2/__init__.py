"""The MobileNetV2 seed family: search space and ops, elastic supernet, mapping spec,
checkpoint converters and the family binding (importing registers all of them)."""
from . import converters, ops, spec  # noqa: F401  (registrations)
from .family import MobileNetV2Family
from .space import (MobileNetV2SearchSpace, SeedStage, StageSpace, effective_layers,
                    mobilenet_v2_search_space, seed_stages)
from .supernet import ElasticInvertedResidual, ElasticMobileNetV2

__all__ = ['MobileNetV2Family', 'MobileNetV2SearchSpace', 'SeedStage', 'StageSpace',
           'effective_layers', 'mobilenet_v2_search_space', 'seed_stages',
           'ElasticInvertedResidual', 'ElasticMobileNetV2']
