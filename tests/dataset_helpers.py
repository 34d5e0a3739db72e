"""Hand-built COCO data sets with synthetic images, shared by the data-set tests
(tests/datasets/test_tiler.py and test_browse.py describe them) and the command tests
(tests/tools/test_tile_browse.py)."""
import json

import cv2
import numpy as np

SIZES = dict(a=(100, 60), b=(30, 20), c=(50, 50))
BOXES = [  # (annotation id, image id, category id, x0, y0, x1, y1)
    (1, 1, 1, (5, 5, 15, 15)), (2, 1, 1, (20, 5, 50, 15)), (3, 1, 2, (36, 45, 46, 55)),
    (4, 1, 1, (39.5, 25, 49.5, 35)), (5, 1, 2, (62, 5, 72, 15)), (6, 2, 1, (2, 3, 12, 13)),
    (7, 2, 1, (20, 2, 28, 10))]
CROWD = {7}
TILES = dict(size=40, overlap=10, min_visible=0.5)


def xywh(box):
    """``x0, y0, x1, y1`` -> COCO's ``[x, y, w, h]``."""
    return [box[0], box[1], box[2] - box[0], box[3] - box[1]]


def make_tile_scene(root, boxes=BOXES):
    """The scene of tests/datasets/test_tiler.py: random-pixel PNGs (so a wrong crop shows)
    and the json; returns (ann file, images folder, pixels by image name)."""
    rng = np.random.default_rng(0)
    img_dir = root / 'images'
    img_dir.mkdir()
    pixels = {}
    for name, (w, h) in SIZES.items():
        pixels[name] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        cv2.imwrite(str(img_dir / f'{name}.png'), pixels[name])
    coco = dict(
        images=[dict(id=i + 1, file_name=f'{n}.png', width=w, height=h)
                for i, (n, (w, h)) in enumerate(SIZES.items())],
        annotations=[dict(id=a, image_id=im, category_id=c, bbox=xywh(b), area=0,
                          iscrowd=int(a in CROWD)) for a, im, c, b in boxes],
        categories=[dict(id=1, name='cat'), dict(id=2, name='dog')])
    ann = root / 'train.json'
    ann.write_text(json.dumps(coco))
    return str(ann), str(img_dir), pixels


GREY = 128  # the browse scene's images


def ann(i, image_id, cat, xywh, **extra):
    """A COCO annotation."""
    return dict(id=i, image_id=image_id, category_id=cat, bbox=list(xywh), iscrowd=0, **extra)


def make_browse_scene(root):
    """The scene of tests/datasets/test_browse.py: flat grey images and the json; returns
    (ann file, images folder)."""
    img_dir = root / 'images'
    (img_dir / 'sub').mkdir(parents=True)
    for name in ('b.png', 'sub/a.jpg', 'c.png'):
        cv2.imwrite(str(img_dir / name), np.full((240, 320, 3), GREY, np.uint8))
    coco = dict(
        images=[dict(id=2, file_name='b.png', width=320, height=240),
                dict(id=1, file_name='sub/a.jpg', width=320, height=240),
                dict(id=3, file_name='c.png', width=320, height=240)],
        annotations=[ann(1, 2, 1, (20, 30, 10, 10)), ann(2, 2, 1, (60, 30, 31, 33)),
                     ann(3, 2, 1, (120, 30, 32, 32)),
                     dict(ann(4, 2, 1, (200, 30, 40, 40)), iscrowd=1),
                     ann(5, 1, 2, (10, 100, 96, 96)), ann(6, 1, 2, (120, 100, 95, 97)),
                     ann(7, 1, 2, (230, 20, 50, 50), area=500), ann(8, 1, 7, (5, 5, 5, 5))],
        categories=[dict(id=1, name='cat'), dict(id=2, name='dog'), dict(id=3, name='bird')])
    path = root / 'train.json'
    path.write_text(json.dumps(coco))
    return str(path), str(img_dir)
