"""Data: the demo data generator, validated COCO datasets and pretrained seed sources."""
from .coco import ValidatedCocoDataset
from .seeds import SEED_ALIASES, load_seed, register_checkpoint_scheme, resolve_seed

register_checkpoint_scheme()

__all__ = ['ValidatedCocoDataset', 'SEED_ALIASES', 'load_seed', 'resolve_seed']
