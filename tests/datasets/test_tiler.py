"""Tiling a COCO data set (detnas.datasets.tiler) and mapping tile boxes back.

The scene, tiled with size 40, overlap 10, min_visible 0.5 (boxes as x0, y0, x1, y1):

* a.png, 100x60: windows x0 in (0, 30, 60), y0 in (0, 20), row by row: T1 (0, 0), T2 (30, 0),
  T3 (60, 0), T4 (0, 20), T5 (30, 20), T6 (60, 20), each 40x40.
  1 cat [5, 5, 15, 15]: whole in T1 only.
  2 cat [20, 5, 50, 15]: never whole; clipped to [20, 5, 40, 15] in T1 and [30, 5, 50, 15]
    in T2 (each 2/3 of it): merged back as the union of the two.
  3 dog [36, 45, 46, 55]: 4 of 10 px wide in T4 (40% < 50%: the one remnant dropped by the
    share), whole in T5.
  4 cat [39.5, 25, 49.5, 35]: 0.5 px wide in T1 and T4 (dropped: under 1 px), whole in T2
    and T5.
  5 dog [62, 5, 72, 15]: clipped to 8 px wide in T2 (80%: kept), whole in T3.
* b.png, 30x20 (smaller than a tile: one tile, the whole image): 6 cat [2, 3, 12, 13] and
  7 a crowd cat [20, 2, 28, 10], both whole.
* c.png, 50x50, no boxes: 4 empty tiles (x0, y0 in (0, 10)).

So 11 tiles, of which T4, T6 and c's four have no box (6 empty); pieces: 7 whole, 3 clipped,
2 dropped under 1 px, 1 under the share; no box lost.
"""
import json
import os

import numpy as np
import pytest
from dataset_helpers import BOXES, TILES, make_tile_scene

from detnas.datasets.tiler import (CLIPPED, OUTSIDE, UNDER_1PX, UNDER_MIN_VISIBLE, WHOLE,
                                   cut_boxes, format_tile_report, merge_back, tile_dataset,
                                   tile_to_image)
from detnas.utils.errors import DetnasInputError


def test_cut_boxes_applies_the_visible_rule_at_its_boundaries():
    window = (10, 20, 50, 60)  # 40x40 at (10, 20)
    boxes = np.array([
        [15, 25, 25, 35],  # whole
        [0, 25, 20, 35],  # 10 of 20 px wide inside: exactly the share, kept
        [0.1, 25, 20.1, 35],  # 10.1 of 20 px: kept
        [0, 25, 19.9, 35],  # 9.9 of 19.9 px: under the share
        [49.2, 25, 52, 35],  # 0.8 px wide inside: under 1 px
        [50, 25, 60, 35],  # touches the border: not in the tile
        [20, 0, 30, 20.5]], float)  # 0.5 px high inside
    status, pieces = cut_boxes(boxes, window, 0.5)
    assert status.tolist() == [WHOLE, CLIPPED, CLIPPED, UNDER_MIN_VISIBLE, UNDER_1PX, OUTSIDE,
                               UNDER_1PX]
    np.testing.assert_allclose(pieces[:3], [[5, 5, 15, 15], [0, 5, 10, 15], [0, 5, 10.1, 15]])
    # min_visible 0 keeps every remnant of 1 px and more; 1 keeps only whole boxes
    assert cut_boxes(boxes, window, 0.0)[0].tolist()[:4] == [WHOLE, CLIPPED, CLIPPED, CLIPPED]
    assert cut_boxes(boxes, window, 1.0)[0].tolist()[:4] == [WHOLE] + [UNDER_MIN_VISIBLE] * 3


def test_tiles_boxes_pixels_and_report(tmp_path):
    ann, img_dir, pixels = make_tile_scene(tmp_path)
    out_dir = tmp_path / 'tiles'
    report = tile_dataset(ann, img_dir, str(out_dir), progress=False, **TILES)
    tiled = json.load(open(out_dir / 'train.json'))
    offsets = [(1, x, y) for y in (0, 20) for x in (0, 30, 60)] + [(2, 0, 0)] + [
        (3, x, y) for y in (0, 10) for x in (0, 10)]
    assert [(t['tile_of'], *t['tile_offset']) for t in tiled['images']] == offsets
    assert [t['id'] for t in tiled['images']] == list(range(1, 12))
    assert [(t['width'], t['height']) for t in tiled['images']] == [(40, 40)] * 6 + [
        (30, 20)] + [(40, 40)] * 4
    assert tiled['images'][1]['file_name'] == 'a_30_0.png'
    # each tile's pixels are the source crop, exactly (PNG)
    import cv2
    for tile in tiled['images']:
        name = 'abc'[tile['tile_of'] - 1]
        (x0, y0), w, h = tile['tile_offset'], tile['width'], tile['height']
        crop = cv2.imread(str(out_dir / 'images' / tile['file_name']))
        np.testing.assert_array_equal(crop, pixels[name][y0:y0 + h, x0:x0 + w])
    # the pieces per tile (tile id, source id, bbox in the tile), hand-computed
    pieces = sorted((a['image_id'], a['part_of'], a['bbox']) for a in tiled['annotations'])
    assert pieces == [
        (1, 1, [5.0, 5.0, 10.0, 10.0]), (1, 2, [20.0, 5.0, 20.0, 10.0]),
        (2, 2, [0.0, 5.0, 20.0, 10.0]), (2, 4, [9.5, 25.0, 10.0, 10.0]),
        (2, 5, [32.0, 5.0, 8.0, 10.0]), (3, 5, [2.0, 5.0, 10.0, 10.0]),
        (5, 3, [6.0, 25.0, 10.0, 10.0]), (5, 4, [9.5, 5.0, 10.0, 10.0]),
        (7, 6, [2.0, 3.0, 10.0, 10.0]), (7, 7, [20.0, 2.0, 8.0, 8.0])]
    assert [a['area'] for a in tiled['annotations']] == [
        a['bbox'][2] * a['bbox'][3] for a in tiled['annotations']]
    assert {(a['part_of'], a['category_id'], a['iscrowd']) for a in tiled['annotations']} == {
        (1, 1, 0), (2, 1, 0), (3, 2, 0), (4, 1, 0), (5, 2, 0), (6, 1, 0), (7, 1, 1)}
    assert tiled['categories'] == [dict(id=1, name='cat'), dict(id=2, name='dog')]
    assert report['counts'] == dict(
        images=3, tiles_cut=11, tiles_written=11, empty_tiles_kept=6, empty_tiles_dropped=0,
        boxes=7, whole=7, clipped=3, dropped_under_1px=2, dropped_under_min_visible=1)
    assert report['lost'] == dict(count=0, items=[])
    assert json.load(open(out_dir / 'train.report.json')) == report
    assert sorted(os.listdir(out_dir)) == ['images', 'train.json', 'train.report.json']
    assert len(os.listdir(out_dir / 'images')) == 11  # and no temp file


def test_merged_back_boxes_are_the_source_boxes(tmp_path):
    ann, img_dir, _ = make_tile_scene(tmp_path)
    tile_dataset(ann, img_dir, str(tmp_path / 'tiles'), progress=False, **TILES)
    merged = merge_back(json.load(open(tmp_path / 'tiles' / 'train.json')))
    # every box comes back, 2 as the union of its two clipped pieces
    assert merged == {a: dict(image_id=im, category_id=c, bbox=[float(v) for v in b])
                      for a, im, c, b in BOXES}


def test_union_of_pieces_of_a_box_larger_than_a_tile(tmp_path):
    """[5, 22, 95, 38] spans the three windows of each row and is never whole: 35, 40 and
    35 of its 90 px are in them. min_visible 0.5 drops all six remnants (a lost box);
    min_visible 0.3 keeps the six and the union is the box."""
    big = [(1, 1, 1, (5, 22, 95, 38))]
    ann, img_dir, _ = make_tile_scene(tmp_path, big)
    report = tile_dataset(ann, img_dir, str(tmp_path / 'half'), progress=False, **TILES)
    assert report['counts']['dropped_under_min_visible'] == 6
    assert report['lost'] == dict(count=1, items=['a.png annotation id 1: [5, 22, 95, 38]'])
    assert 'lost: 1 source box(es) kept in no tile' in format_tile_report(report)
    tiles = dict(TILES, min_visible=0.3)
    report = tile_dataset(ann, img_dir, str(tmp_path / 'third'), progress=False, **tiles)
    assert (report['counts']['clipped'], report['lost']['count']) == (6, 0)
    merged = merge_back(json.load(open(tmp_path / 'third' / 'train.json')))
    assert merged == {1: dict(image_id=1, category_id=1, bbox=[5.0, 22.0, 95.0, 38.0])}


def test_tile_to_image_shifts_by_the_offset():
    boxes = [[1, 2, 11, 12], [0.5, 0, 3, 4.25]]
    np.testing.assert_allclose(tile_to_image(boxes, [30, 20]),
                               [[31, 22, 41, 32], [30.5, 20, 33, 24.25]])
    assert tile_to_image([], [5, 5]).shape == (0, 4)


@pytest.mark.parametrize('share,kept', [(0.0, []), (0.5, [6, 9, 11]), (1.0, [4, 6, 8, 9, 10, 11])])
def test_keep_empty_keeps_an_even_share_of_the_empty_tiles(tmp_path, share, kept):
    """The empty tiles are, in order, T4, T6 and c's four (source tiles 4, 6, 8-11)."""
    ann, img_dir, _ = make_tile_scene(tmp_path)
    report = tile_dataset(ann, img_dir, str(tmp_path / 'out'), keep_empty=share,
                          progress=False, **TILES)
    tiled = json.load(open(tmp_path / 'out' / 'train.json'))
    order = [(1, x, y) for y in (0, 20) for x in (0, 30, 60)] + [(2, 0, 0)] + [
        (3, x, y) for y in (0, 10) for x in (0, 10)]
    written = [order.index((t['tile_of'], *t['tile_offset'])) + 1 for t in tiled['images']]
    assert written == sorted([1, 2, 3, 5, 7] + kept)
    assert (report['counts']['empty_tiles_kept'], report['counts']['empty_tiles_dropped']) == (
        len(kept), 6 - len(kept))
    assert len(os.listdir(tmp_path / 'out' / 'images')) == 5 + len(kept)
    # the annotations point at the renumbered tiles
    assert {a['image_id'] for a in tiled['annotations']} <= {t['id'] for t in tiled['images']}


def test_missing_image_is_named_before_anything_is_written(tmp_path):
    ann, img_dir, _ = make_tile_scene(tmp_path)
    os.remove(os.path.join(img_dir, 'b.png'))
    with pytest.raises(DetnasInputError, match=r"1 image\(s\) listed in '.*train.json' are not "
                                               r"in '.*images', e.g. \['b.png'\]"):
        tile_dataset(ann, img_dir, str(tmp_path / 'out'), progress=False, **TILES)
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('content,match', [
    ('{"images": [', r"'.*bad.json' is not valid json"),
    ('[]', r"'.*bad.json' is not a COCO annotation file: its top level is a list"),
    ('{"images": [{"id": 1}], "annotations": [], "categories": []}',
     r"'.*bad.json': image entry #0 lacks \['file_name'\]"),
    ('{"images": [], "annotations": [{"id": 4, "image_id": 9, "bbox": [0, 0, 1, 1], '
     '"category_id": 1}], "categories": []}',
     r"'.*bad.json': annotation id 4 is on image id 9, which the file does not list"),
])
def test_bad_json_is_named(tmp_path, content, match):
    (tmp_path / 'bad.json').write_text(content)
    with pytest.raises(DetnasInputError, match=match):
        tile_dataset(str(tmp_path / 'bad.json'), str(tmp_path), str(tmp_path / 'out'),
                     progress=False)
    with pytest.raises(DetnasInputError, match=r"annotation file '.*none.json' does not exist"):
        tile_dataset(str(tmp_path / 'none.json'), str(tmp_path), str(tmp_path / 'out'))


def test_undecodable_or_resized_image_and_bad_settings_are_named(tmp_path):
    ann, img_dir, _ = make_tile_scene(tmp_path)
    with pytest.raises(DetnasInputError, match='overlap 40: need size >= 1 and 0 <= overlap'):
        tile_dataset(ann, img_dir, str(tmp_path / 'out'), size=40, overlap=40)
    with pytest.raises(DetnasInputError, match='--min-visible 1.5: need a share'):
        tile_dataset(ann, img_dir, str(tmp_path / 'out'), min_visible=1.5)
    with pytest.raises(DetnasInputError, match='would overwrite its source'):
        tile_dataset(ann, img_dir, str(tmp_path))
    (tmp_path / 'images' / 'b.png').write_bytes(b'<html>404</html>')
    with pytest.raises(DetnasInputError, match=r"image '.*b.png' is empty or does not decode"):
        tile_dataset(ann, img_dir, str(tmp_path / 'out'), progress=False, **TILES)
    import cv2
    cv2.imwrite(str(tmp_path / 'images' / 'b.png'), np.zeros((30, 20, 3), np.uint8))
    with pytest.raises(DetnasInputError, match=r"'.*b.png' is 20x30, but its entry \(id 2\) "
                                               'states 30x20'):
        tile_dataset(ann, img_dir, str(tmp_path / 'out'), progress=False, **TILES)
