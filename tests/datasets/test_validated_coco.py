import json
import os
import shutil

import pytest
from mmengine.registry import init_default_scope

from detnas.datasets.coco import DatasetError, ValidatedCocoDataset


def build(root, ann='annotations/instances_val.json', **kw):
    init_default_scope('mmdet')
    return ValidatedCocoDataset(data_root=str(root) + '/', ann_file=ann,
                                data_prefix=dict(img='val/'), pipeline=[],
                                metainfo=dict(classes=('circle', 'triangle', 'square', 'star',
                                                       'ring', 'cross')), **kw)


def test_valid_data_loads(tiny_coco):
    ds = build(tiny_coco)
    assert len(ds) == 6 and ds[0]['img_path'].endswith('.jpg')


def test_missing_annotation_file_names_the_command(tmp_path):
    with pytest.raises(DatasetError, match='make_demo_coco.py --out'):
        build(tmp_path, missing_hint='python tools/dataset/make_demo_coco.py --out X')


@pytest.mark.parametrize('content,match', [
    ('{"images": [', 'not valid json'),
    ('[1, 2, 3]', 'top level is a list'),
    ('{"images": [], "annotations": []}', "missing key\\(s\\) \\['categories'\\]"),
])
def test_broken_annotation_files(tmp_path, content, match):
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations' / 'instances_val.json').write_text(content)
    with pytest.raises(DatasetError, match=match):
        build(tmp_path)


def test_annotation_without_bbox_is_named(tmp_path, tiny_coco):
    data = json.load(open(os.path.join(tiny_coco, 'annotations', 'instances_val.json')))
    del data['annotations'][1]['bbox']
    (tmp_path / 'annotations').mkdir()
    (tmp_path / 'annotations' / 'instances_val.json').write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"annotation #1 .* lacks \['bbox'\]"):
        build(tmp_path)


def test_missing_and_empty_images_are_reported(tmp_path, tiny_coco):
    root = tmp_path / 'copy'
    shutil.copytree(tiny_coco, root)
    os.remove(root / 'val' / 'val_00002.jpg')
    with pytest.raises(DatasetError, match=r'1 image\(s\) .* missing.*val_00002.jpg'):
        build(root)
    shutil.copy(os.path.join(tiny_coco, 'val', 'val_00002.jpg'), root / 'val')
    open(root / 'val' / 'val_00004.jpg', 'w').close()
    with pytest.raises(DatasetError, match=r'empty \(0 bytes\).*val_00004.jpg'):
        build(root)
