"""Box-size statistics and drawings of a COCO data set (detnas.datasets.browse).

The scene: categories cat (1), dog (2), bird (3, no box); boxes (w x h, area used):
* cat: 10x10 (100, small), 31x33 (1023, small), 32x32 (1024: medium from exactly 32^2),
  a crowd 40x40 (counted apart);
* dog: 96x96 (9216: large from exactly 96^2), 95x97 (9215, medium), 50x50 with an
  ``area`` of 500 (a mask's area: small, as COCO evaluation buckets it);
* one 5x5 box of category 7, which the file does not list (small, as '#7').
Images (ids out of file order): 2 'b.png' (cats), 1 'sub/a.jpg' (dogs, the '#7' box),
3 'c.png' (no box).
"""

import cv2
import numpy as np
import pytest
from dataset_helpers import GREY, make_browse_scene

from detnas.datasets.browse import (PALETTE, box_area, draw_boxes, draw_dataset,
                                    format_size_stats, size_of, size_stats)
from detnas.datasets.coco_files import load_coco_index
from detnas.utils.errors import DetnasInputError


def nearest(pixel):
    """The class colour or grey nearest to a (JPEG-blurred) pixel."""
    return min(PALETTE + [(GREY,) * 3], key=lambda c: np.abs(pixel.astype(int) - c).sum())


def test_size_thresholds_are_cocos():
    assert [size_of(a) for a in (0, 1023.9, 1024, 9215.9, 9216, 1e6)] == [
        'small', 'small', 'medium', 'medium', 'large', 'large']
    assert box_area(dict(bbox=[0, 0, 50, 50], area=500)) == 500
    assert box_area(dict(bbox=[0, 0, 50, 50], area=0)) == 2500  # no area: w x h
    assert box_area(dict(bbox=[0, 0, 50, 40])) == 2000


def test_statistics_equal_the_hand_counts(tmp_path):
    ann_file, _ = make_browse_scene(tmp_path)
    stats = size_stats(load_coco_index(ann_file))
    assert stats == dict(
        images=3, images_without_boxes=1, crowd=1,
        classes={'cat': dict(boxes=3, small=2, medium=1, large=0),
                 'dog': dict(boxes=3, small=1, medium=1, large=1),
                 'bird': dict(boxes=0, small=0, medium=0, large=0),
                 '#7': dict(boxes=1, small=1, medium=0, large=0)},
        all=dict(boxes=7, small=4, medium=2, large=1))
    lines = format_size_stats(stats).splitlines()
    assert lines[0] == '3 images (1 without boxes), 7 boxes (+ 1 crowd)'
    assert lines[1:8] == [
        '| class | boxes | small | medium | large |', '|---|---|---|---|---|',
        '| cat | 3 | 2 (66.7%) | 1 (33.3%) | 0 (0.0%) |',
        '| dog | 3 | 1 (33.3%) | 1 (33.3%) | 1 (33.3%) |',
        '| bird | 0 | 0 | 0 | 0 |',
        '| #7 | 1 | 1 (100.0%) | 0 (0.0%) | 0 (0.0%) |',
        '| all | 7 | 4 (57.1%) | 2 (28.6%) | 1 (14.3%) |']
    assert lines[-1].startswith('most boxes are small')  # 4 of 7


def test_drawn_boxes_have_their_class_colour_and_label(tmp_path):
    image = np.full((240, 320, 3), GREY, np.uint8)
    drawn = draw_boxes(image, [((40, 60, 100, 50), 'cat', 1)])
    assert (image == GREY).all()  # a copy
    color = PALETTE[1]
    assert tuple(drawn[110, 90]) == color  # bottom edge, y = 60 + 50
    assert tuple(drawn[85, 140]) == color  # right edge, x = 40 + 100
    assert tuple(drawn[85, 90]) == (GREY,) * 3  # inside
    label = drawn[44:60, 40:65]  # above the top-left corner: filled, with white text
    assert (label == color).all(axis=2).mean() > 0.5 and (label > 200).all(axis=2).sum() > 10
    assert (drawn[:40] == GREY).all() and (drawn[115:] == GREY).all()  # nothing elsewhere


def test_draw_dataset_writes_the_first_images_by_id(tmp_path):
    ann_file, img_dir = make_browse_scene(tmp_path)
    out = tmp_path / 'drawn'
    written = draw_dataset(load_coco_index(ann_file), img_dir, str(out), num=2)
    assert written == [str(out / 'sub__a.jpg'), str(out / 'b.jpg')]  # ids 1, 2
    dogs, cats = cv2.imread(written[0]), cv2.imread(written[1])
    # bottom edges of the 96x96 dog at (10, 100) and of the 3rd cat at (120, 30), inside
    assert [nearest(dogs[196, 60]), nearest(cats[62, 135])] == [PALETTE[2], PALETTE[1]]
    assert [nearest(dogs[150, 60]), nearest(cats[45, 135])] == [(GREY,) * 3] * 2

def test_missing_image_to_draw_is_named(tmp_path):
    ann_file, img_dir = make_browse_scene(tmp_path)
    (tmp_path / 'images' / 'sub' / 'a.jpg').unlink()
    with pytest.raises(DetnasInputError, match=r"listed in '.*train.json' are not in "
                                               r"'.*images', e.g. \['sub/a.jpg'\]"):
        draw_dataset(load_coco_index(ann_file), img_dir, str(tmp_path / 'out'), num=1)
    assert not (tmp_path / 'out').exists()
    assert draw_dataset(load_coco_index(ann_file), img_dir, str(tmp_path / 'out'), 0) == []
