"""detnas's own registries (mmdet's MODELS / TASK_UTILS hold the detection modules).

``SEARCH_OPS`` holds the candidate operations of the backbone search space. Every op is
built as ``SEARCH_OPS.build(dict(type=NAME, in_channels=C_in, out_channels=C_out,
stride=S, **options))`` and maps ``(N, C_in, H, W) -> (N, C_out, H / S, W / S)``; a
component becomes searchable by registering a class (or factory) with that signature.
"""
from mmengine.registry import Registry

SEARCH_OPS = Registry('search op', scope='detnas')
