"""A COCO data set as the data-set tools read it (the tiler, the browser): the json indexed
by image, and its images read and written with errors that name the file."""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional

import cv2
import numpy as np

from ..utils.errors import DetnasInputError
from .coco import read_coco

# cv2 flags: any depth and channel count (16-bit microscopy stays 16-bit, grey stays grey);
# unlike IMREAD_UNCHANGED the EXIF orientation is applied, as when mmcv loads the image
READ_AS_STORED = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
JPEG_QUALITY = 95


@dataclass
class CocoIndex:
    """A COCO annotation file, indexed.

    Args:
        ann_file: the file.
        data: its content (checked by :func:`detnas.datasets.coco.read_coco`).
        images: its ``images`` entries, by id.
        boxes: its annotations by image id (every image has a list, in file order).
        names: class name by category id.
    """
    ann_file: str
    data: dict
    images: List[dict]
    boxes: Dict[int, List[dict]]
    names: Dict[int, str]


def load_coco_index(ann_file: str) -> CocoIndex:
    """Reads and indexes a COCO annotation file.

    Args:
        ann_file: the json.

    Raises:
        DetnasInputError: the file is missing, not json, not COCO-shaped, or an image entry
            lacks ``id`` / ``file_name`` or an annotation names an image the file does not
            list; the message names the file.
    """
    if not osp.isfile(ann_file):
        raise DetnasInputError(f'annotation file {ann_file!r} does not exist')
    data = read_coco(ann_file)
    for i, image in enumerate(data['images']):
        lacking = [k for k in ('id', 'file_name')
                   if not isinstance(image, dict) or k not in image]
        if lacking:
            raise DetnasInputError(f'{ann_file!r}: image entry #{i} lacks {lacking}')
    images = sorted(data['images'], key=lambda image: image['id'])
    boxes: Dict[int, List[dict]] = {image['id']: [] for image in images}
    for ann in data['annotations']:
        if ann['image_id'] not in boxes:
            raise DetnasInputError(f'{ann_file!r}: annotation id {ann.get("id")} is on image id '
                                   f'{ann["image_id"]}, which the file does not list')
        boxes[ann['image_id']].append(ann)
    names = {cat['id']: str(cat.get('name', cat['id'])) for cat in data['categories']}
    return CocoIndex(ann_file, data, images, boxes, names)


def check_images_exist(index: CocoIndex, images_dir: str,
                       images: Optional[List[dict]] = None) -> None:
    """Fails before any work when listed images are not in ``images_dir``.

    Args:
        index: the data set.
        images_dir: the folder its ``file_name`` entries are relative to.
        images: the entries to check (default: all).

    Raises:
        DetnasInputError: naming the first missing files and the annotation file.
    """
    if not osp.isdir(images_dir):
        raise DetnasInputError(f'images folder {images_dir!r} does not exist; give the folder '
                               f'that the file names in {index.ann_file!r} are relative to')
    images = index.images if images is None else images
    missing = [image['file_name'] for image in images
               if not osp.isfile(osp.join(images_dir, image['file_name']))]
    if missing:
        raise DetnasInputError(f'{len(missing)} image(s) listed in {index.ann_file!r} are not in '
                               f'{images_dir!r}, e.g. {missing[:3]}')


def read_image(path: str, flags: int = READ_AS_STORED) -> np.ndarray:
    """An image file's pixels (cv2 layout: BGR, ``H x W [x C]``).

    Args:
        path: the file.
        flags: cv2 read flags (default: as stored, EXIF orientation applied).

    Raises:
        DetnasInputError: the file is missing, empty or does not decode; the message names it.
    """
    if not osp.isfile(path):
        raise DetnasInputError(f'image {path!r} does not exist')
    image = cv2.imdecode(np.fromfile(path, np.uint8), flags)
    if image is None:
        raise DetnasInputError(f'image {path!r} is empty or does not decode (truncated or not '
                               'an image); restore or replace it')
    return image


def write_image(path: str, image: np.ndarray) -> str:
    """Encodes ``image`` by ``path``'s extension (JPEG at quality 95; an extension cv2 cannot
    write becomes ``.png``) and writes it atomically.

    Args:
        path: the file to write; its folder is created if needed.
        image: cv2 pixels.

    Returns:
        the path written (``path``, or it with ``.png``).
    """
    from ..utils.io import atomic_write_bytes
    stem, ext = osp.splitext(path)
    if not ext or not cv2.haveImageWriter(path):
        path, ext = stem + '.png', '.png'
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if ext.lower() in ('.jpg', '.jpeg') else []
    ok, encoded = cv2.imencode(ext, image, params)
    if not ok:
        raise DetnasInputError(f'cannot encode an image of shape {image.shape} and type '
                               f'{image.dtype} as {ext} for {path!r}')
    atomic_write_bytes(path, encoded.tobytes())
    return path
