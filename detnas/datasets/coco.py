"""A COCO dataset that checks its files up front and fails with one clear message."""
import json
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.logging import print_log

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from ..utils.errors import DetnasInputError
from .image_check import undecodable_images


class DatasetError(DetnasInputError):
    """A dataset file is missing or malformed; the message names it and the fix."""


@DATASETS.register_module()
class ValidatedCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` plus up-front checks of the annotation file and images.

    Everything else (pipeline, metainfo, filtering) is mmdet's. Checks made once at load:
    the annotation file exists and is COCO-shaped json; no box would be dropped silently
    (mmdet skips boxes under 1 px, outside their image or of a category the file does not
    list: here they are an error naming the count and the first offenders, unless
    ``drop_invalid_boxes``); a training set has usable boxes; an evaluation set has ground
    truth at all (unless ``allow_empty_gt``); every listed image exists, is not empty and
    decodes (:mod:`.image_check`: once per file, cached by path, size and mtime).

    Args:
        missing_hint: appended to the error when the annotation file is missing, e.g. the
            command that generates the data; ``{data_root}`` in it becomes the data folder.
        check_images: stat every listed image (about 1 s per 100k images).
        decode_images: also decode every listed image once (with ``check_images``; about
            1 ms per COCO image on one core, in parallel; unchanged files are not decoded
            again in later runs).
        drop_invalid_boxes: drop the invalid boxes with a logged report instead of failing.
        allow_empty_gt: let an evaluation set (``test_mode``) have no box at all (inference
            only: its metrics would all be -1).
        **kwargs: passed to ``CocoDataset``.
    """

    def __init__(self, *args, missing_hint: str = '', check_images: bool = True,
                 decode_images: bool = True, drop_invalid_boxes: bool = False,
                 allow_empty_gt: bool = False, **kwargs):
        self.missing_hint = missing_hint
        self.check_images = check_images
        self.decode_images = decode_images
        self.drop_invalid_boxes = drop_invalid_boxes
        self.allow_empty_gt = allow_empty_gt
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        ann_file = self.ann_file
        if not osp.isfile(ann_file):
            where = 'the data folder ' + repr(self.data_root) if self.data_root else 'it'
            raise DatasetError(f'annotation file {ann_file!r} does not exist; create {where}'
                               + (': ' + self.missing_hint.format(
                                   data_root=(self.data_root or '.').rstrip('/'))
                                  if self.missing_hint else ''))
        data = read_coco(ann_file)
        self._check_boxes(ann_file, data)
        del data  # mmdet's loader reads the file again with its own index
        try:
            data_list = super().load_data_list()
        except Exception as e:
            raise DatasetError(f'cannot load {ann_file!r} as COCO: {e}') from e
        boxes = sum(1 for info in data_list for box in info['instances']
                    if not box.get('ignore_flag'))
        if not self.test_mode and boxes == 0:
            raise DatasetError(f'{ann_file!r}: {len(data_list)} images, 0 usable boxes; a '
                               'training set needs annotated boxes of the configured classes '
                               f'{list(self.metainfo.get("classes", ()))}')
        if self.test_mode and boxes == 0 and not self.allow_empty_gt:
            raise DatasetError(f'{ann_file!r} holds no box of the configured classes, so every '
                               'COCO metric would be -1; evaluate on annotated images, or set '
                               'allow_empty_gt=True in the dataset config for inference only')
        if self.check_images:
            check_image_files(data_list, ann_file, decode=self.decode_images)
        return data_list

    def _check_boxes(self, ann_file: str, data: dict) -> None:
        """Fails on boxes mmdet would drop silently (or reports them with
        ``drop_invalid_boxes``)."""
        bad = invalid_boxes(data)
        count = sum(len(v) for v in bad.values())
        if not count:
            return
        text = f'{ann_file!r}: {count} box(es) would be dropped: ' + '; '.join(
            f'{len(v)} {reason} (e.g. {v[:3]})' for reason, v in bad.items() if v)
        if not self.drop_invalid_boxes:
            raise DatasetError(text + '. Fix the file (a category off by one?), or set '
                               'drop_invalid_boxes=True in the dataset config to drop them '
                               'with this report.')
        print_log(text + ' (drop_invalid_boxes=True: dropped)', logger='current',
                  level=30)


def read_coco(ann_file: str) -> dict:
    """A COCO annotation file's content, after checking its structure.

    Raises:
        DatasetError: not json, not an object, a missing or non-list ``images`` /
            ``annotations`` / ``categories``, or an annotation without ``image_id``, a
            4-number ``bbox`` or ``category_id``; the message names the file and the entry.
    """
    try:
        with open(ann_file) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetError(f'{ann_file!r} is not valid json ({e}); regenerate or re-download '
                           'it') from None
    problem = describe_coco_problem(data, ann_file)
    if problem:
        raise DatasetError(problem)
    return data


def describe_coco_problem(data, ann_file: str) -> Optional[str]:
    """Says what is wrong with a loaded COCO annotation file, or None if its structure is
    fine."""
    if not isinstance(data, dict):
        return f'{ann_file!r} is not a COCO annotation file: its top level is a ' \
               f'{type(data).__name__}, expected an object with images/annotations/categories'
    missing = [k for k in ('images', 'annotations', 'categories') if k not in data]
    if missing:
        return f'{ann_file!r} is not a COCO annotation file: missing key(s) {missing}'
    wrong = [k for k in ('images', 'annotations', 'categories') if not isinstance(data[k], list)]
    if wrong:
        return f'{ann_file!r}: {wrong} must be lists'
    for i, ann in enumerate(data['annotations']):
        lacking = [k for k in ('image_id', 'bbox', 'category_id') if k not in ann]
        if lacking:
            return f'{ann_file!r}: annotation #{i} (id={ann.get("id")}) lacks {lacking}'
        box = ann['bbox']
        if not (isinstance(box, list) and len(box) == 4 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)):
            return (f'{ann_file!r}: annotation #{i} (id={ann.get("id")}) has bbox {box!r}; '
                    'expected [x, y, width, height] numbers')
    return None


def invalid_boxes(data: dict) -> Dict[str, List[str]]:
    """The boxes of a COCO dict that mmdet's CocoDataset drops, by reason: ``'with width or
    height below 1 px'``, ``'outside their image'``, ``'of a category_id not in
    categories'`` (crowd boxes are not counted: they are ignored, not dropped)."""
    cats = {c['id'] for c in data.get('categories', [])}
    sizes = {im['id']: (im.get('width'), im.get('height')) for im in data.get('images', [])}
    out = {'with width or height below 1 px': [], 'outside their image': [],
           'of a category_id not in categories': []}
    for ann in data.get('annotations', []):
        if ann.get('iscrowd'):
            continue
        name = f'annotation id {ann.get("id")}'
        x, y, w, h = ann['bbox']
        width, height = sizes.get(ann['image_id'], (None, None))
        if ann['category_id'] not in cats:
            out['of a category_id not in categories'].append(
                f'{name}: category_id {ann["category_id"]}, categories {sorted(cats)}')
        elif w < 1 or h < 1:
            out['with width or height below 1 px'].append(f'{name}: bbox {ann["bbox"]}')
        elif width and height and (min(x + w, width) <= max(x, 0) or
                                   min(y + h, height) <= max(y, 0)):
            out['outside their image'].append(f'{name}: bbox {ann["bbox"]} in a {width}x'
                                              f'{height} image')
    return out


def check_image_files(data_list: List[dict], ann_file: str, decode: bool = True) -> None:
    """Raises DatasetError naming the first missing, empty or (with ``decode``) undecodable
    images of ``data_list``.

    Args:
        data_list: mmdet data infos (``img_path`` each).
        ann_file: the annotation file that lists them (named in the message; keys the decode
            cache).
        decode: decode-check the images that exist (:func:`.image_check.undecodable_images`).
    """
    missing, empty, present = [], [], []
    for info in data_list:
        path = info['img_path']
        try:
            if os.stat(path).st_size == 0:
                empty.append(path)
            else:
                present.append(path)
        except FileNotFoundError:
            missing.append(path)
    broken = undecodable_images(present, cache_key=ann_file) if decode else []
    if missing or empty or broken:
        parts = []
        if missing:
            parts.append(f'{len(missing)} image(s) listed in {ann_file!r} are missing, '
                         f'e.g. {missing[:3]}')
        if empty:
            parts.append(f'{len(empty)} image file(s) listed in {ann_file!r} are empty '
                         f'(0 bytes), e.g. {empty[:3]}')
        if broken:
            shown = '; '.join(f'{p} ({why})' for p, why in broken[:3])
            parts.append(f'{len(broken)} image file(s) listed in {ann_file!r} cannot be '
                         f'decoded (truncated or not an image), e.g. {shown}')
        raise DatasetError('; '.join(parts) + '. Restore or replace the files, or remove '
                           'them from the annotation file.')
