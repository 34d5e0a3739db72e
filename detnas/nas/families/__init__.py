"""Backbone families of the search (see :mod:`.base`); importing registers them."""
from .base import FAMILIES, SearchFamily, family_of, out_spatial, register_family
from .mobilenet_v2 import MOBILENET_V2, MobileNetV2Family
from .resnet import RESNET, ResNetFamily

__all__ = ['FAMILIES', 'SearchFamily', 'family_of', 'out_spatial', 'register_family',
           'MOBILENET_V2', 'MobileNetV2Family', 'RESNET', 'ResNetFamily']
