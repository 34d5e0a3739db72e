"""Data: the demo data generator, the validated COCO dataset and batches loaded once."""
from .batches import load_batches
from .coco import ValidatedCocoDataset

__all__ = ['load_batches', 'ValidatedCocoDataset']
