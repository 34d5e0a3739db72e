"""Backbone families of the search, one package each (see :mod:`.base`).

Adding a family: a new package here (space, supernet, mapping spec, converters, a
:class:`.SearchFamily` subclass decorated with :func:`.register_family`) and one import
line below.
"""
from .base import (FAMILIES, SearchFamily, bind_family, out_spatial, register_family,
                   seed_checkpoint, seed_family)
from . import mobilenet_v2  # noqa: F401,E402  (registers the family)
from . import resnet  # noqa: F401,E402  (registers the family)

__all__ = ['FAMILIES', 'SearchFamily', 'bind_family', 'out_spatial', 'register_family',
           'seed_checkpoint', 'seed_family']
