"""A dataset loaded once into collated batches, for passes that must see the same images
in the same order every time (candidate scores, BN calibration, analysis tools)."""
import copy
import random
from typing import List, Optional, Tuple

from mmengine.dataset import pseudo_collate

from mmdet.registry import DATASETS


def load_batches(dataset_cfg: dict, batch_size: int, num_images: Optional[int] = None,
                 seed: int = 0) -> Tuple[List[dict], dict]:
    """Collated batches of a dataset, loaded once (no sampler: the same on every rank).

    Args:
        dataset_cfg: the dataset config (its pipeline is applied).
        batch_size: images per batch.
        num_images: take this many images, chosen with ``random.Random(seed)`` (default:
            every image, in order).
        seed: the seed of that choice.

    Returns:
        (batches as mmengine's ``pseudo_collate`` makes them, the dataset's metainfo)
    """
    dataset = DATASETS.build(copy.deepcopy(dataset_cfg))
    indices = list(range(len(dataset)))
    if num_images is not None and num_images < len(indices):
        indices = sorted(random.Random(seed).sample(indices, num_images))
    batches = [pseudo_collate([dataset[i] for i in indices[k:k + batch_size]])
               for k in range(0, len(indices), batch_size)]
    return batches, dict(dataset.metainfo)
