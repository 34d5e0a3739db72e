import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from detnas.datasets.demo_coco import (CLASSES, TRAIN_BACKGROUNDS, VAL_BACKGROUNDS,
                                       DemoCocoSpec, fill_polygon, make_demo_coco)


def test_json_is_valid_coco_and_boxes_fit_the_objects(tiny_coco):
    for split in ('train', 'val'):
        ann_file = osp.join(tiny_coco, 'annotations', f'instances_{split}.json')
        coco = COCO(ann_file)
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
        assert len(coco.getImgIds()) == (12 if split == 'train' else 6)
        for ann in coco.loadAnns(coco.getAnnIds()):
            img = coco.loadImgs(ann['image_id'])[0]
            x, y, w, h = ann['bbox']
            assert 0 <= x and 0 <= y and x + w <= img['width'] and y + h <= img['height']
            # visible area is a subset of the box and not degenerate
            assert 4 <= ann['area'] <= w * h
            pixels = np.asarray(Image.open(osp.join(tiny_coco, split, img['file_name'])))
            assert pixels.shape == (img['height'], img['width'], 3)


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    spec = dict(num_train=3, num_val=2, image_size=(96, 96), min_size=8, max_size=48)
    a = make_demo_coco(str(tmp_path / 'a'), DemoCocoSpec(seed=1, **spec), progress=False)
    b = make_demo_coco(str(tmp_path / 'b'), DemoCocoSpec(seed=1, **spec), progress=False)
    c = make_demo_coco(str(tmp_path / 'c'), DemoCocoSpec(seed=2, **spec), progress=False)
    load = lambda p: json.load(open(p))['annotations']  # noqa: E731
    assert load(a['train']) == load(b['train'])
    assert load(a['train']) != load(c['train'])
    pa = np.asarray(Image.open(tmp_path / 'a' / 'train' / 'train_00000.jpg'))
    pb = np.asarray(Image.open(tmp_path / 'b' / 'train' / 'train_00000.jpg'))
    assert np.array_equal(pa, pb)


def test_size_mix_covers_small_medium_and_large(tmp_path):
    files = make_demo_coco(str(tmp_path), DemoCocoSpec(seed=0, num_train=30, num_val=1),
                           progress=False)
    areas = np.array([a['area'] for a in json.load(open(files['train']))['annotations']])
    small, large = (areas < 32**2).mean(), (areas >= 96**2).mean()
    assert small > 0.3 and large > 0.03 and 1 - small - large > 0.2


def test_train_and_val_backgrounds_are_disjoint():
    assert not set(TRAIN_BACKGROUNDS) & set(VAL_BACKGROUNDS)


@pytest.mark.parametrize('kwargs', [dict(num_train=0), dict(min_size=50, max_size=40),
                                    dict(image_size=(64, 64), max_size=100)])
def test_bad_spec_is_rejected(kwargs):
    with pytest.raises(ValueError):
        DemoCocoSpec(**kwargs)


def test_fill_polygon_matches_skimage_on_random_polygons():
    """The vectorised rasteriser fills exactly skimage's pixels (the demo data stays
    byte-identical), including polygons cut by the mask border and non-convex ones."""
    from skimage.draw import polygon
    rng = np.random.default_rng(0)
    for _ in range(300):
        size = int(rng.integers(5, 120))
        rows, cols = rng.uniform(-10, size + 10, (2, int(rng.integers(3, 12))))
        expected = np.zeros((size, size), bool)
        expected[polygon(rows, cols, shape=(size, size))] = True
        np.testing.assert_array_equal(fill_polygon(rows, cols, (size, size)), expected)
