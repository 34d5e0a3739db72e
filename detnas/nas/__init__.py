"""Backbone adaptation: search spaces, seed families, weight mapping, supernets, search.

Importing it registers the families (their supernet backbones, search ops, mapping specs
and checkpoint converters) and the elastic FPN into mmdet's registries.
"""
from . import families, supernet  # noqa: F401
