"""The shared half of the converters: validates the images and boxes that a reader
(:mod:`.readers`) found, builds the COCO dict and the report of what was kept, clipped and
dropped, and prints that report.

The rules (the same for every format), in this order:

1. an image that is not in the images folder is dropped with its boxes (``image_missing``);
   so is one that is empty or does not decode (``image_unreadable``, checked with
   :func:`detnas.datasets.image_check.undecodable_images`), and one whose size differs
   from the size its annotation file states (``size_mismatch``: its boxes were drawn on
   another image). The size is the image's as displayed (EXIF orientation applied, as
   mmcv loads it).
2. a box of a class outside the given class list is dropped (``unknown_class``); without a
   list the classes are every label in the source, sorted.
3. coordinates are rounded to 1/1000 px; a box under 1 px wide or high is dropped
   (``empty_box``: zero, negative or sub-pixel size).
4. a box is clipped to the image; one with under 1 px of its width or height inside the
   image is dropped (``outside_image``); the clipped boxes are kept and listed in the
   report. After this no box is one that mmdet's CocoDataset would drop silently
   (:func:`detnas.datasets.coco.invalid_boxes`).

Category ids are 1.. in class-list order, image ids 1.. in file-name order, annotation ids
1.. in image then file order; images whose boxes were all dropped stay, without boxes.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from ...utils.errors import DetnasInputError
from .readers import SourceBox, SourceImage

REASONS = dict(
    image_missing='image listed but not in the images folder (dropped with its boxes)',
    image_unreadable='image file empty or not decodable (dropped with its boxes)',
    size_mismatch='image size differs from the size its annotation file states (dropped '
                  'with its boxes)',
    unknown_class='class not in the class list',
    empty_box='width or height under 1 px',
    outside_image='under 1 px of its width or height inside the image',
)
CLIPPED = 'stuck out of the image: clipped to it and kept (boxes as x0, y0, x1, y1 px)'


def build_coco(images: Sequence[SourceImage], images_dir: str,
               classes: Optional[Sequence[str]] = None, description: str = '',
               decode_cache_key: Optional[str] = None) -> Tuple[dict, dict]:
    """The COCO dict of ``images`` and the report of what was kept and dropped.

    Args:
        images: a reader's records.
        images_dir: the folder their ``file_name`` is relative to.
        classes: the class list (category ids 1.. in this order; boxes of other classes are
            dropped); None: every label in ``images``, sorted.
        description: COCO's ``info.description``.
        decode_cache_key: key of the decode-check cache (the output file, so that
            ValidatedCocoDataset reading it does not decode the images again).

    Returns:
        (COCO dict, report dict with ``classes``, ``class_source``, ``kept``, ``clipped``,
        ``dropped``: reason -> what, count, items)

    Raises:
        DetnasInputError: two records name the same image.
    """
    _check_unique(images)
    class_source = 'data' if classes is None else 'given'
    if classes is None:
        classes = sorted({box.label for image in images for box in image.boxes})
    cat_ids = {name: i + 1 for i, name in enumerate(classes)}
    dropped: Dict[str, List[str]] = {reason: [] for reason in REASONS}
    clipped: List[str] = []
    images = sorted(images, key=lambda image: image.file_name)
    sizes = _check_images(images, images_dir, dropped, decode_cache_key)
    coco_images, annotations = [], []
    per_class = dict.fromkeys(classes, 0)
    for image in images:
        if image.file_name not in sizes:
            continue
        width, height = sizes[image.file_name]
        image_id = len(coco_images) + 1
        coco_images.append(dict(id=image_id, file_name=image.file_name, width=width,
                                height=height))
        for box in image.boxes:
            ann = _box_annotation(box, width, height, cat_ids, dropped, clipped)
            if ann:
                annotations.append(dict(id=len(annotations) + 1, image_id=image_id, **ann))
                per_class[box.label] += 1
    with_boxes = {ann['image_id'] for ann in annotations}
    coco = dict(info=dict(description=description), licenses=[], images=coco_images,
                annotations=annotations,
                categories=[dict(id=cat_ids[n], name=n) for n in classes])
    report = dict(
        classes=list(classes), class_source=class_source,
        kept=dict(images=len(coco_images), boxes=len(annotations),
                  images_without_boxes=len(coco_images) - len(with_boxes),
                  boxes_per_class=per_class),
        clipped=dict(what=CLIPPED, count=len(clipped), items=clipped),
        dropped={reason: dict(what=REASONS[reason], count=len(items), items=items)
                 for reason, items in dropped.items()})
    return coco, report


def format_report(report: dict, shown: int = 5) -> str:
    """The report as printed: what was kept, then each non-empty group of clipped and
    dropped items with its first ``shown`` items and the count."""
    kept = report['kept']
    classes = ', '.join(f'{i + 1} {name} ({kept["boxes_per_class"][name]})'
                        for i, name in enumerate(report['classes']))
    lines = [f'kept {_count(kept["images"], "image")} ({kept["images_without_boxes"]} without '
             f'boxes), {_count(kept["boxes"], "box")}',
             f'categories ({"from the data" if report["class_source"] == "data" else "as given"}'
             f'; id name (boxes)): {classes or "none"}']
    groups = [('clipped', report['clipped'])] + [
        (f'dropped, {reason}', group) for reason, group in report['dropped'].items()]
    for title, group in groups:
        if not group['count']:
            continue
        lines.append(f'{title}: {group["count"]} -- {group["what"]}')
        lines += [f'    {item}' for item in group['items'][:shown]]
        if group['count'] > shown:
            lines.append(f'    ... and {group["count"] - shown} more')
    if not any(group['count'] for group in report['dropped'].values()):
        lines.append('dropped: nothing')
    if not kept['boxes']:
        lines.append('warning: no box kept; a training set needs boxes')
    return '\n'.join(lines)


def image_size(path: str) -> Tuple[int, int]:
    """``(width, height)`` of an image as displayed: EXIF orientations 5-8 (a quarter turn)
    swap the stored sizes, as when mmcv loads it."""
    from PIL import Image
    with Image.open(path) as img:
        width, height = img.size
        orientation = img.getexif().get(0x0112, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _check_unique(images: Sequence[SourceImage]) -> None:
    seen: Dict[str, str] = {}
    for image in images:
        if image.file_name in seen:
            raise DetnasInputError(f'{seen[image.file_name]!r} and {image.where!r} both label '
                                   f'image {image.file_name!r}; keep one of them')
        seen[image.file_name] = image.where


def _check_images(images: Sequence[SourceImage], images_dir: str, dropped: Dict[str, list],
                  decode_cache_key: Optional[str]) -> Dict[str, Tuple[int, int]]:
    """The sizes of the usable images by file name; the others go to ``dropped``."""
    from ..image_check import undecodable_images
    present = []
    for image in images:
        path = osp.join(images_dir, image.file_name)
        if not osp.isfile(path):
            dropped['image_missing'].append(f'{image.file_name} (from {image.where}, '
                                            f'{_count(len(image.boxes), "box")})')
        elif os.path.getsize(path) == 0:
            dropped['image_unreadable'].append(f'{image.file_name} (from {image.where}): '
                                               'empty file (0 bytes)')
        else:
            present.append((image, path))
    broken = dict(undecodable_images([path for _, path in present], cache_key=decode_cache_key))
    sizes = {}
    for image, path in present:
        if path in broken:
            dropped['image_unreadable'].append(f'{image.file_name} (from {image.where}): '
                                               f'{broken[path]}')
            continue
        size = image_size(path)
        if image.size and image.size != size:
            dropped['size_mismatch'].append(
                f'{image.file_name} (from {image.where}): the file states '
                f'{image.size[0]}x{image.size[1]}, the image is {size[0]}x{size[1]}')
            continue
        sizes[image.file_name] = size
    return sizes


def _box_annotation(box: SourceBox, width: int, height: int, cat_ids: Dict[str, int],
                    dropped: Dict[str, list], clipped: List[str]) -> Optional[dict]:
    """The COCO annotation of a box (without ids), or None with the reason in ``dropped``."""
    if box.label not in cat_ids:
        dropped['unknown_class'].append(f'{box.where}: {box.label!r}')
        return None
    x0, y0, x1, y1 = box.xyxy
    if box.relative:
        x0, y0, x1, y1 = x0 * width, y0 * height, x1 * width, y1 * height
    xyxy = tuple(_round(v) for v in (x0, y0, x1, y1))
    x0, y0, x1, y1 = xyxy
    if _round(x1 - x0) < 1 or _round(y1 - y0) < 1:
        dropped['empty_box'].append(f'{box.where}: {_show(xyxy)}')
        return None
    inside = (max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height)))
    w, h = _round(inside[2] - inside[0]), _round(inside[3] - inside[1])
    if w < 1 or h < 1:
        dropped['outside_image'].append(f'{box.where}: {_show(xyxy)} in a {width}x{height} '
                                        'image')
        return None
    if inside != xyxy:
        clipped.append(f'{box.where}: {_show(xyxy)} -> {_show(inside)} in a {width}x{height} '
                       'image')
    return dict(category_id=cat_ids[box.label], bbox=[inside[0], inside[1], w, h],
                area=_round(w * h), iscrowd=int(box.crowd))


def _count(n: int, noun: str) -> str:
    return f'{n} {noun}' + ('' if n == 1 else 'es' if noun.endswith('x') else 's')


def _round(value: float) -> float:
    return round(float(value), 3) + 0.0  # + 0.0: no -0.0


def _show(xyxy) -> str:
    return '[' + ', '.join(str(int(v)) if v == int(v) else str(v) for v in xyxy) + ']'
