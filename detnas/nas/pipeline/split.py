"""A held-out split of the *training* annotations for scoring search candidates.

The search never looks at the val split: it scores candidates on a fraction of the training
images held out of supernet training. The split is a function of the seed: image ids are
sorted, shuffled with ``random.Random(seed)`` and the first ``round(fraction * n)`` (at
least 1, at most ``n - 1``) are held out. Both parts are written as COCO jsons (every key of
the source file kept; images and annotations filtered).
"""
import json
import os.path as osp
import random
from dataclasses import dataclass
from typing import List, Tuple

from detnas.utils.errors import DetnasInputError
from detnas.utils.io import atomic_write_json


@dataclass(frozen=True)
class HeldoutSplit:
    """Paths and image ids of a split.

    Args:
        train_ann_file: COCO json of the images the supernet trains on.
        heldout_ann_file: COCO json of the held-out images (candidates are scored on them).
        train_ids: image ids of the training part.
        heldout_ids: image ids of the held-out part.
    """
    train_ann_file: str
    heldout_ann_file: str
    train_ids: Tuple[int, ...]
    heldout_ids: Tuple[int, ...]


def heldout_image_ids(image_ids: List[int], fraction: float, seed: int) -> List[int]:
    """The held-out ids (sorted) for ``fraction`` of ``image_ids`` and ``seed``.

    Args:
        image_ids: every image id of the training file.
        fraction: share held out, in (0, 1).
        seed: the search seed.

    Raises:
        DetnasInputError: the fraction is outside (0, 1) or there are fewer than 2 images.
    """
    if not 0 < fraction < 1:
        raise DetnasInputError(f'search.heldout_fraction must be in (0, 1), got {fraction!r}')
    ids = sorted(set(image_ids))
    if len(ids) < 2:
        raise DetnasInputError(f'the training annotations list {len(ids)} image(s); a held-out '
                               'split needs at least 2')
    count = min(max(1, round(fraction * len(ids))), len(ids) - 1)
    random.Random(seed).shuffle(ids)
    return sorted(ids[:count])


def _subset(data: dict, keep: set) -> dict:
    out = {k: v for k, v in data.items() if k not in ('images', 'annotations')}
    out['images'] = [im for im in data['images'] if im['id'] in keep]
    out['annotations'] = [a for a in data.get('annotations', []) if a['image_id'] in keep]
    return out


def split_train_annotations(ann_file: str, out_dir: str, fraction: float, seed: int,
                            write: bool = True) -> HeldoutSplit:
    """Writes ``search_train.json`` and ``heldout.json`` into ``out_dir``.

    Args:
        ann_file: the training COCO annotation file.
        out_dir: output folder.
        fraction: share of images held out.
        seed: the search seed.
        write: write the files (False: only compute the split, e.g. on non-zero ranks).

    Raises:
        DetnasInputError: the annotation file is missing or not COCO json.
    """
    if not osp.isfile(ann_file):
        raise DetnasInputError(f'training annotation file {ann_file!r} does not exist; the '
                               'search holds out part of it (train_dataloader.dataset)')
    try:
        with open(ann_file) as f:
            data = json.load(f)
        image_ids = [im['id'] for im in data['images']]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DetnasInputError(f'training annotation file {ann_file!r} is not COCO json '
                               f'({e!r})') from None
    heldout = heldout_image_ids(image_ids, fraction, seed)
    held = set(heldout)
    train = sorted(set(image_ids) - held)
    train_path = osp.abspath(osp.join(out_dir, 'search_train.json'))
    heldout_path = osp.abspath(osp.join(out_dir, 'heldout.json'))
    if write:
        atomic_write_json(train_path, _subset(data, set(train)))
        atomic_write_json(heldout_path, _subset(data, held))
    return HeldoutSplit(train_path, heldout_path, tuple(train), tuple(heldout))
