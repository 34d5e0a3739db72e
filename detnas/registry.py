"""detnas's registries.

``SEARCH_OPS`` holds the candidate operations of the backbone search space. Every op is
built as ``SEARCH_OPS.build(dict(type=NAME, in_channels=C_in, out_channels=C_out,
stride=S, **options))`` and maps ``(N, C_in, H, W) -> (N, C_out, H / S, W / S)``; a
component becomes searchable by registering a class (or factory) with that signature.

The detection modules register into mmdet's registries. Each of those gets an (empty)
child of scope ``detnas`` here, because mmengine builds everything that comes from a
``_base_ = 'detnas::...'`` config under the ``detnas`` scope: the child hands every name
on to mmdet's registry and, through it, mmengine's.
"""
from mmengine.registry import Registry

SEARCH_OPS = Registry('search op', scope='detnas', locations=['detnas'])


def _scope_children() -> dict:
    """One ``detnas``-scoped child per registry of mmdet, by mmdet's name (``MODELS`` ...)."""
    import mmdet.registry as mmdet_registry
    children = {}
    for name, parent in vars(mmdet_registry).items():
        if isinstance(parent, Registry):
            children[name] = parent.children.get('detnas') or Registry(
                parent.name, parent=parent, scope='detnas',
                locations=[*parent._locations, 'detnas'])  # lookups import mmdet's modules
    return children


globals().update(_scope_children())
