"""The ResNet seed family: search space, elastic supernet, mapping spec, checkpoint
converters and the family binding (importing registers all of them)."""
from . import converters, spec  # noqa: F401  (registrations)
from .family import ResNetFamily
from .space import ResNetSearchSpace, ResNetStageSpace, canonical_layer, resnet_search_space
from .supernet import ElasticResBlock, ElasticResNet

__all__ = ['ResNetFamily', 'ResNetSearchSpace', 'ResNetStageSpace', 'canonical_layer',
           'resnet_search_space', 'ElasticResBlock', 'ElasticResNet']
