"""A COCO dataset that checks its files up front and fails with one clear message."""
import json
import os
import os.path as osp
from typing import List, Optional

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from ..utils.errors import DetnasInputError


class DatasetError(DetnasInputError):
    """A dataset file is missing or malformed; the message names it and the fix."""


@DATASETS.register_module()
class ValidatedCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` plus up-front checks of the annotation file and images.

    Everything else (pipeline, metainfo, filtering) is mmdet's. Checks made once at load:
    the annotation file exists and is COCO-shaped json, and every listed image exists and
    is not empty.

    Args:
        missing_hint: appended to the error when the annotation file is missing, e.g. the
            command that generates the data; ``{data_root}`` in it becomes the data folder.
        check_images: stat every listed image (about 1 s per 100k images).
        **kwargs: passed to ``CocoDataset``.
    """

    def __init__(self, *args, missing_hint: str = '', check_images: bool = True, **kwargs):
        self.missing_hint = missing_hint
        self.check_images = check_images
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        ann_file = self.ann_file
        if not osp.isfile(ann_file):
            where = 'the data folder ' + repr(self.data_root) if self.data_root else 'it'
            raise DatasetError(f'annotation file {ann_file!r} does not exist; create {where}'
                               + (': ' + self.missing_hint.format(
                                   data_root=(self.data_root or '.').rstrip('/'))
                                  if self.missing_hint else ''))
        try:
            data_list = super().load_data_list()
        except Exception as e:
            raise DatasetError(describe_coco_problem(ann_file) or
                               f'cannot load {ann_file!r} as COCO: {e}') from e
        if self.check_images:
            check_image_files(data_list, ann_file)
        return data_list


def describe_coco_problem(ann_file: str) -> Optional[str]:
    """Says what is wrong with a COCO annotation file, or None if its structure looks fine."""
    try:
        with open(ann_file) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        return f'{ann_file!r} is not valid json ({e}); regenerate or re-download it'
    if not isinstance(data, dict):
        return f'{ann_file!r} is not a COCO annotation file: its top level is a ' \
               f'{type(data).__name__}, expected an object with images/annotations/categories'
    missing = [k for k in ('images', 'annotations', 'categories') if k not in data]
    if missing:
        return f'{ann_file!r} is not a COCO annotation file: missing key(s) {missing}'
    for i, ann in enumerate(data['annotations']):
        lacking = [k for k in ('image_id', 'bbox', 'category_id') if k not in ann]
        if lacking:
            return f'{ann_file!r}: annotation #{i} (id={ann.get("id")}) lacks {lacking}'
    return None


def check_image_files(data_list: List[dict], ann_file: str) -> None:
    """Raises DatasetError naming the first missing or empty images of ``data_list``."""
    missing, empty = [], []
    for info in data_list:
        path = info['img_path']
        try:
            if os.stat(path).st_size == 0:
                empty.append(path)
        except FileNotFoundError:
            missing.append(path)
    if missing or empty:
        parts = []
        if missing:
            parts.append(f'{len(missing)} image(s) listed in {ann_file!r} are missing, '
                         f'e.g. {missing[:3]}')
        if empty:
            parts.append(f'{len(empty)} image file(s) are empty (0 bytes), e.g. {empty[:3]}')
        raise DatasetError('; '.join(parts) + '. Restore the files or remove them from the '
                           'annotation file.')
