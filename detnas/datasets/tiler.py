"""Cuts a COCO data set of large images into overlapping tiles (small objects stay at their
pixel size instead of being shrunk away by the resize to the model's input), and maps
tile boxes back to their image.

The windows are :func:`detnas.datasets.tiling.tile_windows`. Each box is clipped to each
tile it touches; the rule for a clipped remnant is :data:`VISIBLE_RULE`. Every tile's
image entry records ``tile_of`` (the source image id) and ``tile_offset`` (``[x0, y0]``, its
top-left corner in the source image), every box ``part_of`` (the source annotation id), so
that :func:`tile_to_image` and :func:`merge_back` map results back. The command is
``tools/dataset/tile.py`` (``detnas tile``).
"""
import os.path as osp
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

from ..utils.errors import DetnasInputError
from .coco_files import (CocoIndex, check_images_exist, load_coco_index, read_image,
                         write_image)
from .tiling import Window, tile_windows

VISIBLE_RULE = ('a box cut by a tile border keeps its part inside the tile (clipped to it) '
                'unless that part is under MIN_VISIBLE of the area of the whole box (as '
                'clipped to its image) or under 1 px wide or high: then the remnant is dropped '
                'from that tile. With an overlap at least as large as an object, every object '
                'lies whole in some tile.')
EMPTY_RULE = ('tiles without a box are kept at the share KEEP_EMPTY, spread evenly over the '
              'data set (1: all, the default: background tiles are the negatives that teach '
              'a detector not to fire on the scene, and sliced inference sees them all; '
              'lower it to save training time on sparse data, e.g. 0.2)')
# what happens to a box in one tile
OUTSIDE, WHOLE, CLIPPED, UNDER_1PX, UNDER_MIN_VISIBLE = range(5)
ROUND = 3  # coordinates in 1/1000 px, as the converters write them


def check_tiling(size: int, overlap: int, min_visible: float, keep_empty: float) -> None:
    """Raises :class:`DetnasInputError` for tiling settings out of range (see
    :func:`tile_dataset`)."""
    if size < 1 or not 0 <= overlap < size:
        raise DetnasInputError(f'tile size {size} and overlap {overlap}: need size >= 1 and '
                               '0 <= overlap < size')
    for name, value in (('min-visible', min_visible), ('keep-empty', keep_empty)):
        if not 0 <= value <= 1:
            raise DetnasInputError(f'--{name} {value}: need a share between 0 and 1')


def cut_boxes(boxes: np.ndarray, window: Window,
              min_visible: float) -> Tuple[np.ndarray, np.ndarray]:
    """What :data:`VISIBLE_RULE` makes of each box in one tile.

    Args:
        boxes: ``(N, 4)`` boxes ``x0, y0, x1, y1`` in image pixels, clipped to the image.
        window: the tile ``(x0, y0, x1, y1)``.
        min_visible: the least share of a box's area that a remnant keeps.

    Returns:
        (status per box: ``OUTSIDE`` (no area in the tile), ``WHOLE``, ``CLIPPED``,
        ``UNDER_1PX`` or ``UNDER_MIN_VISIBLE``; the boxes clipped to the tile, in tile
        pixels rounded to 1/1000)
    """
    x0, y0, x1, y1 = window
    low, high = np.array([x0, y0, x0, y0], float), np.array([x1, y1, x1, y1], float)
    whole = np.round(boxes - low, ROUND)
    clipped = np.round(np.clip(boxes, low, high) - low, ROUND)
    width, height = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    full_area = (whole[:, 2] - whole[:, 0]) * (whole[:, 3] - whole[:, 1])
    status = np.full(len(boxes), CLIPPED)
    status[np.all(clipped == whole, axis=1)] = WHOLE
    # (1 - 1e-9): a remnant of exactly the share is kept despite float rounding
    status[width * height < min_visible * full_area * (1 - 1e-9)] = UNDER_MIN_VISIBLE
    status[(width < 1) | (height < 1)] = UNDER_1PX
    status[(width <= 0) | (height <= 0)] = OUTSIDE
    return status, clipped


def tile_to_image(boxes, offset: Sequence[float]) -> np.ndarray:
    """Boxes found in a tile, in its source image's pixels.

    Args:
        boxes: ``(N, 4)`` boxes ``x0, y0, x1, y1`` in tile pixels (a tile's detections, or
            its annotations as corners).
        offset: the tile's ``tile_offset`` ``[x0, y0]``.
    """
    x, y = offset
    return np.asarray(boxes, float).reshape(-1, 4) + np.array([x, y, x, y], float)


def merge_back(tiled: dict) -> Dict[int, dict]:
    """The source boxes reassembled from a tiled COCO dict: each the union (enclosing box)
    of its pieces, in its source image's pixels. A box kept whole in some tile comes back
    as it was (to 1/1000 px); a box cut by tile borders comes back as the part of it that
    its kept pieces cover; a box with no kept piece is absent.

    Args:
        tiled: a COCO dict written by :func:`tile_dataset`.

    Returns:
        per source annotation id (``part_of``): ``dict(image_id=source image id,
        category_id=..., bbox=[x0, y0, x1, y1])``.
    """
    tiles = {image['id']: image for image in tiled['images']}
    merged: Dict[int, dict] = {}
    for ann in tiled['annotations']:
        tile = tiles[ann['image_id']]
        x, y, w, h = ann['bbox']
        box = tile_to_image([x, y, x + w, y + h], tile['tile_offset'])[0]
        seen = merged.get(ann['part_of'])
        if seen:
            box = np.concatenate([np.minimum(seen['bbox'][:2], box[:2]),
                                  np.maximum(seen['bbox'][2:], box[2:])])
        merged[ann['part_of']] = dict(image_id=tile['tile_of'], category_id=ann['category_id'],
                                      bbox=[round(float(v), ROUND) + 0.0 for v in box])
    return merged


class Tiler:
    """Cuts images into tiles and collects the tiled COCO dict and the counts.

    Args:
        images_dir: the source images' folder.
        tiles_dir: the folder the tile images go to (the tiled json's ``file_name`` entries
            are relative to it).
        size: tile side in pixels.
        overlap: the least overlap of neighbouring tiles in pixels.
        min_visible: see :data:`VISIBLE_RULE`.
        keep_empty: see :data:`EMPTY_RULE`.
    """

    def __init__(self, images_dir: str, tiles_dir: str, size: int, overlap: int,
                 min_visible: float, keep_empty: float):
        self.images_dir, self.tiles_dir = images_dir, tiles_dir
        self.size, self.overlap = size, overlap
        self.min_visible, self.keep_empty = min_visible, keep_empty
        self.images: List[dict] = []
        self.annotations: List[dict] = []
        self.counts = dict(images=0, tiles_cut=0, empty_tiles_kept=0, empty_tiles_dropped=0,
                           boxes=0, whole=0, clipped=0, dropped_under_1px=0,
                           dropped_under_min_visible=0)
        self.lost: List[str] = []
        self._empty_seen = 0

    def tile_image(self, image: dict, boxes: List[dict]) -> None:
        """Cuts one source image and its boxes into tiles and writes the tile images.

        Args:
            image: its COCO entry.
            boxes: its annotations.
        """
        pixels = self._read(image)
        height, width = pixels.shape[:2]
        corners = _corners(boxes, width, height)
        kept_anywhere = np.zeros(len(boxes), bool)
        for window in tile_windows(width, height, self.size, self.overlap):
            status, pieces = cut_boxes(corners, window, self.min_visible)
            self._count(status)
            kept = np.flatnonzero((status == WHOLE) | (status == CLIPPED))
            kept_anywhere[kept] = True
            if len(kept) or self._keep_empty_tile():
                self._add_tile(image, pixels, window, [(boxes[i], pieces[i]) for i in kept])
        self.counts['images'] += 1
        self.counts['boxes'] += len(boxes)
        self.lost += [f'{image["file_name"]} annotation id {ann.get("id")}: '
                      f'{_show(corners[i])}' for i, ann in enumerate(boxes)
                      if not kept_anywhere[i]]

    def _read(self, image: dict) -> np.ndarray:
        path = osp.join(self.images_dir, image['file_name'])
        pixels = read_image(path)
        size = (pixels.shape[1], pixels.shape[0])
        stated = (image.get('width'), image.get('height'))
        if None not in stated and tuple(stated) != size:
            raise DetnasInputError(f'image {path!r} is {size[0]}x{size[1]}, but its entry '
                                   f'(id {image["id"]}) states {stated[0]}x{stated[1]}: its '
                                   'boxes were drawn on another image; fix the entry')
        return pixels

    def _count(self, status: np.ndarray) -> None:
        self.counts['tiles_cut'] += 1
        for key, code in (('whole', WHOLE), ('clipped', CLIPPED),
                          ('dropped_under_1px', UNDER_1PX),
                          ('dropped_under_min_visible', UNDER_MIN_VISIBLE)):
            self.counts[key] += int(np.sum(status == code))

    def _keep_empty_tile(self) -> bool:
        """Keeps the i-th empty tile when floor((i + 1) * share) > floor(i * share): exactly
        floor(n * share) of n, evenly spread."""
        i, self._empty_seen = self._empty_seen, self._empty_seen + 1
        keep = int((i + 1) * self.keep_empty) > int(i * self.keep_empty)
        self.counts['empty_tiles_kept' if keep else 'empty_tiles_dropped'] += 1
        return keep

    def _add_tile(self, image: dict, pixels: np.ndarray, window: Window,
                  pieces: List[Tuple[dict, np.ndarray]]) -> None:
        x0, y0, x1, y1 = window
        stem, ext = osp.splitext(image['file_name'])
        path = write_image(osp.join(self.tiles_dir, f'{stem}_{x0}_{y0}{ext}'),
                           pixels[y0:y1, x0:x1])
        tile_id = len(self.images) + 1
        self.images.append(dict(id=tile_id, file_name=osp.relpath(path, self.tiles_dir),
                                width=x1 - x0, height=y1 - y0, tile_of=image['id'],
                                tile_offset=[x0, y0]))
        for ann, (bx0, by0, bx1, by1) in pieces:
            w, h = _round(bx1 - bx0), _round(by1 - by0)
            self.annotations.append(dict(
                id=len(self.annotations) + 1, image_id=tile_id,
                category_id=ann['category_id'], bbox=[_round(bx0), _round(by0), w, h],
                area=_round(w * h), iscrowd=int(ann.get('iscrowd', 0)), part_of=ann.get('id')))


def tile_dataset(ann_file: str, images_dir: str, out_dir: str, size: int = 640,
                 overlap: int = 128, min_visible: float = 0.5, keep_empty: float = 1.0,
                 progress: bool = True) -> dict:
    """Tiles a COCO data set: ``out_dir/images/`` gets the tiles (named
    ``<image stem>_<x0>_<y0><ext>``, in the source's sub-folders; JPEGs re-encoded at quality
    95), ``out_dir/<ann file name>`` the tiled COCO json (written last, atomically, like
    every file) and ``out_dir/<name>.report.json`` the report. Boxes keep their category and
    ``iscrowd``; segmentations are not carried.

    Args:
        ann_file: the source COCO json.
        images_dir: the folder its ``file_name`` entries are relative to.
        out_dir: the output folder.
        size: tile side in pixels (a tile is smaller only where its image is).
        overlap: the least overlap of neighbouring tiles in pixels, ``0 <= overlap < size``.
        min_visible: see :data:`VISIBLE_RULE`.
        keep_empty: see :data:`EMPTY_RULE`.
        progress: show a progress bar over the images.

    Returns:
        the report: the settings, ``counts`` (images, tiles cut, empty tiles kept and
        dropped, source boxes, pieces whole, clipped and dropped by reason) and ``lost``
        (source boxes with no kept piece).

    Raises:
        DetnasInputError: bad settings, a missing or malformed json, missing images (checked
            before anything is written), an undecodable image or one of another size than
            its entry states; the message names the file.
    """
    from ..utils.io import atomic_write_json
    from .convert import report_path
    check_tiling(size, overlap, min_visible, keep_empty)
    index = load_coco_index(ann_file)
    out, tiles_dir = osp.join(out_dir, osp.basename(ann_file)), osp.join(out_dir, 'images')
    _check_outputs(ann_file, images_dir, out, tiles_dir)
    check_images_exist(index, images_dir)
    tiler = Tiler(images_dir, tiles_dir, size, overlap, min_visible, keep_empty)
    for image in _progress(index.images, progress):
        tiler.tile_image(image, index.boxes[image['id']])
    settings = dict(size=size, overlap=overlap, min_visible=min_visible, keep_empty=keep_empty)
    coco = _tiled_coco(index, tiler, settings)
    report = dict(source=ann_file, images=images_dir, out=out, tiles_dir=tiles_dir, **settings,
                  counts=dict(tiles_written=len(tiler.images), **tiler.counts),
                  lost=dict(count=len(tiler.lost), items=tiler.lost))
    atomic_write_json(out, coco)
    atomic_write_json(report_path(out), report)
    return report


def format_tile_report(report: dict, shown: int = 5) -> str:
    """The report as printed, with the first ``shown`` lost boxes.

    Args:
        report: :func:`tile_dataset`'s report.
        shown: how many lost boxes to list.
    """
    c, lost = report['counts'], report['lost']
    lines = [
        f'images: {c["images"]} -> tiles: {c["tiles_cut"]} cut ({report["size"]} px, overlap '
        f'{report["overlap"]}), {c["tiles_written"]} written ({c["empty_tiles_kept"]} of them '
        f'without boxes); {c["empty_tiles_dropped"]} without boxes dropped (--keep-empty '
        f'{report["keep_empty"]})',
        f'boxes: {c["boxes"]} in the source; pieces in tiles: {c["whole"]} whole, '
        f'{c["clipped"]} clipped (kept), {c["dropped_under_1px"] + c["dropped_under_min_visible"]}'
        f' remnants dropped ({c["dropped_under_min_visible"]} under --min-visible '
        f'{report["min_visible"]} of their box, {c["dropped_under_1px"]} under 1 px wide or '
        'high)']
    if lost['count']:
        lines.append(f'lost: {lost["count"]} source box(es) kept in no tile (larger than a '
                     'tile? raise --size or lower --min-visible):')
        lines += [f'    {item}' for item in lost['items'][:shown]]
        if lost['count'] > shown:
            lines.append(f'    ... and {lost["count"] - shown} more')
    else:
        lines.append('lost: none (every source box is kept, whole or clipped, in some tile)')
    return '\n'.join(lines)


def _check_outputs(ann_file: str, images_dir: str, out: str, tiles_dir: str) -> None:
    if osp.abspath(out) == osp.abspath(ann_file):
        raise DetnasInputError(f'the tiled json would overwrite its source {ann_file!r}; give '
                               'another --out-dir')
    if osp.abspath(tiles_dir) == osp.abspath(images_dir):
        raise DetnasInputError(f'the tiles would go into the source images folder '
                               f'{images_dir!r}; give another --out-dir')


def _tiled_coco(index: CocoIndex, tiler: Tiler, settings: dict) -> dict:
    info = dict(index.data.get('info') or {})
    info.update(description=f'tiles of {index.ann_file} (detnas tile)',
                tiling=dict(source=index.ann_file, **settings))
    return dict(info=info, licenses=index.data.get('licenses', []), images=tiler.images,
                annotations=tiler.annotations, categories=index.data['categories'])


def _corners(boxes: List[dict], width: int, height: int) -> np.ndarray:
    """COCO ``[x, y, w, h]`` boxes as corners clipped to the image, ``(N, 4)``."""
    xywh = np.array([ann['bbox'] for ann in boxes], float).reshape(-1, 4)
    corners = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    return np.clip(corners, 0, np.array([width, height, width, height], float))


def _progress(items: Sequence, show: bool) -> Iterable:
    from tqdm import tqdm
    return tqdm(items, desc='tiling', unit='img', disable=not show or len(items) < 2)


def _round(value: float) -> float:
    return round(float(value), ROUND) + 0.0  # + 0.0: no -0.0


def _show(box: np.ndarray) -> str:
    return '[' + ', '.join(f'{float(v):g}' for v in box) + ']'
