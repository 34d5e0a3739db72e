"""Look at a COCO data set before training on it: its boxes drawn with their class names on
the images, and box-size statistics (boxes per class, and the shares of small, medium and
large boxes by COCO's area thresholds, per class too). The command is
``tools/analysis/browse_dataset.py`` (``detnas browse``)."""
import os.path as osp
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from .coco_files import CocoIndex, check_images_exist, read_image, write_image

SMALL_MAX, MEDIUM_MAX = 32 ** 2, 96 ** 2  # COCO evaluation's area thresholds
SIZES = ('small', 'medium', 'large')
SIZE_RULE = ('small: area < 32^2, medium: 32^2 <= area < 96^2, large: area >= 96^2 px^2; the '
             "area is the annotation's positive 'area' (what COCO evaluation buckets by), "
             'else its box width x height; crowd boxes are counted apart')
# tab10, BGR: one colour per category id, cycling
PALETTE = [(180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
           (75, 86, 140), (194, 119, 227), (127, 127, 127), (34, 189, 188), (207, 190, 23)]
Box = Tuple[Sequence[float], str, int]  # COCO [x, y, w, h], class name, category id


def size_of(area: float) -> str:
    """``'small'``, ``'medium'`` or ``'large'`` by COCO's thresholds (see :data:`SIZE_RULE`).

    Args:
        area: a box's area in px^2.
    """
    return 'small' if area < SMALL_MAX else 'medium' if area < MEDIUM_MAX else 'large'


def box_area(ann: dict) -> float:
    """The area a COCO annotation is bucketed by (see :data:`SIZE_RULE`).

    Args:
        ann: a COCO annotation.
    """
    area = ann.get('area')
    if isinstance(area, (int, float)) and area > 0:
        return float(area)
    return float(ann['bbox'][2]) * float(ann['bbox'][3])


def size_stats(index: CocoIndex) -> dict:
    """Box counts of a data set, per class and in all.

    Args:
        index: the data set.

    Returns:
        ``dict(images=..., images_without_boxes=..., crowd=..., classes={name: counts},
        all=counts)`` with ``counts = dict(boxes=n, small=n, medium=n, large=n)``; classes
        in category-id order (every category, also one without boxes; a box of a category
        the file does not list counts under ``'#<id>'``); crowd boxes only in ``crowd``.
    """
    names = dict(sorted(index.names.items()))
    classes = {name: dict.fromkeys(('boxes',) + SIZES, 0) for name in names.values()}
    total = dict.fromkeys(('boxes',) + SIZES, 0)
    crowd = 0
    for ann in (a for boxes in index.boxes.values() for a in boxes):
        if ann.get('iscrowd'):
            crowd += 1
            continue
        name = names.get(ann['category_id'], f'#{ann["category_id"]}')
        counts = classes.setdefault(name, dict.fromkeys(('boxes',) + SIZES, 0))
        size = size_of(box_area(ann))
        for bucket in (counts, total):
            bucket['boxes'] += 1
            bucket[size] += 1
    return dict(images=len(index.images),
                images_without_boxes=sum(1 for boxes in index.boxes.values() if not boxes),
                crowd=crowd, classes=classes, all=total)


def format_size_stats(stats: dict) -> str:
    """:func:`size_stats` as printed: a table of boxes and size shares per class, the totals,
    and a hint to tile when most boxes are small.

    Args:
        stats: :func:`size_stats`'s result.
    """
    from ..evaluation.coco_eval import format_table

    def row(name: str, counts: dict) -> List[str]:
        n = counts['boxes']
        return [name, str(n)] + [f'{counts[s]} ({100 * counts[s] / n:.1f}%)' if n else '0'
                                 for s in SIZES]
    rows = [row(name, counts) for name, counts in stats['classes'].items()]
    lines = [f'{stats["images"]} images ({stats["images_without_boxes"]} without boxes), '
             f'{stats["all"]["boxes"]} boxes (+ {stats["crowd"]} crowd)',
             format_table(rows + [row('all', stats['all'])], ['class', 'boxes', *SIZES]),
             f'({SIZE_RULE})']
    if stats['all']['boxes'] and stats['all']['small'] / stats['all']['boxes'] >= 0.5:
        lines.append('most boxes are small: for large images consider tiling them '
                     '(tools/dataset/tile.py) instead of shrinking the whole image')
    return '\n'.join(lines)


def class_color(category_id: int) -> Tuple[int, int, int]:
    """The BGR colour boxes of a category are drawn in (:data:`PALETTE`, cycling)."""
    return PALETTE[int(category_id) % len(PALETTE)]


def draw_boxes(image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """A copy of ``image`` with each box outlined and its class name written above it; lines
    are 2 px (visible through JPEG's blur), more on large images (1 px per 640 px of the
    longer side).

    Args:
        image: BGR ``uint8`` pixels.
        boxes: ``(xywh, class name, category id)`` each (the id picks the colour).
    """
    out = image.copy()
    thick = max(2, round(max(out.shape[:2]) / 640))
    scale, text_thick = 0.25 * thick, thick // 2
    for (x, y, w, h), name, cat_id in boxes:
        color = class_color(cat_id)
        p0, p1 = (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h)))
        cv2.rectangle(out, p0, p1, color, thick)
        (tw, th), base = cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, scale, text_thick)
        top = p0[1] - th - base if p0[1] - th - base >= 0 else p0[1]  # inside at the top edge
        cv2.rectangle(out, (p0[0], top), (p0[0] + tw, top + th + base), color, -1)
        cv2.putText(out, name, (p0[0], top + th), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), text_thick, cv2.LINE_AA)
    return out


def draw_dataset(index: CocoIndex, images_dir: str, out_dir: str, num: int) -> List[str]:
    """Draws the boxes of the first ``num`` images (by id) into ``out_dir`` as JPEGs named
    after the image's path (``sub/a.png`` -> ``sub__a.jpg``).

    Args:
        index: the data set.
        images_dir: the folder its ``file_name`` entries are relative to.
        out_dir: where the drawings go.
        num: how many images to draw.

    Returns:
        the files written.

    Raises:
        DetnasInputError: one of the images is missing (checked before drawing) or does not
            decode; the message names the file.
    """
    chosen = index.images[:max(0, num)]
    check_images_exist(index, images_dir, chosen)
    written = []
    for image in chosen:
        pixels = read_image(osp.join(images_dir, image['file_name']), cv2.IMREAD_COLOR)
        boxes = [(ann['bbox'], index.names.get(ann['category_id'], f'#{ann["category_id"]}'),
                  ann['category_id']) for ann in index.boxes[image['id']]]
        name = osp.splitext(image['file_name'].replace('\\', '/'))[0].replace('/', '__')
        written.append(write_image(osp.join(out_dir, name + '.jpg'), draw_boxes(pixels, boxes)))
    return written

