"""Overlapping tile windows over a large image: the geometry shared by the data-set tiler
(``tools/dataset/tile.py``) and sliced inference (``tools/infer.py --slice``)."""
from typing import List, Tuple

Window = Tuple[int, int, int, int]


def axis_starts(length: int, size: int, overlap: int) -> List[int]:
    """Start offsets of windows of ``size`` covering ``[0, length)``.

    Neighbours overlap by at least ``overlap``; the last window ends at ``length`` (so no
    window sticks out and every window but a lone short one has the full ``size``).

    Args:
        length: the image's extent along the axis, in pixels.
        size: the window's extent.
        overlap: the least overlap of neighbours, ``0 <= overlap < size``.
    """
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError(f'tile size {size} and overlap {overlap}: need 0 <= overlap < size')
    if length <= size:
        return [0]
    stride = size - overlap
    starts = list(range(0, length - size, stride))
    return starts + [length - size]


def tile_windows(width: int, height: int, size: int, overlap: int) -> List[Window]:
    """Windows ``(x0, y0, x1, y1)`` (pixels, x1/y1 exclusive) covering a ``width`` x
    ``height`` image, row by row; see :func:`axis_starts`.

    Args:
        width: image width.
        height: image height.
        size: tile side (a tile is smaller only where the image is).
        overlap: the least overlap of neighbouring tiles.
    """
    return [(x, y, min(x + size, width), min(y + size, height))
            for y in axis_starts(height, size, overlap)
            for x in axis_starts(width, size, overlap)]
