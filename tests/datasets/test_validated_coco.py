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


def _write(tmp_path, tiny_coco, edit, split='val'):
    data = json.load(open(os.path.join(tiny_coco, 'annotations', f'instances_{split}.json')))
    edit(data)
    root = tmp_path / 'edited'
    shutil.copytree(tiny_coco, root)
    (root / 'annotations' / f'instances_{split}.json').write_text(json.dumps(data))
    return root


@pytest.mark.parametrize('edit,match', [
    (lambda d: d.pop('annotations'), r"missing key\(s\) \['annotations'\]"),
    (lambda d: d.pop('images'), r"missing key\(s\) \['images'\]"),
    (lambda d: d['annotations'][2].update(bbox=[1, 2, 3]), r'annotation #2 .* bbox \[1, 2, 3\]'),
])
def test_structure_errors_name_the_file_and_the_entry(tmp_path, tiny_coco, edit, match):
    with pytest.raises(DatasetError, match=match):
        build(_write(tmp_path, tiny_coco, edit))


def _break_boxes(data):
    anns = data['annotations']
    anns[0]['bbox'] = [10, 10, 0, 5]  # zero width
    anns[1]['category_id'] = 7  # the file's ids are 1..6: an off-by-one export
    anns[2]['category_id'] = 7
    anns[3]['bbox'] = [500, 500, 20, 20]  # outside a 128 x 128 image


def test_boxes_mmdet_would_drop_are_counted_and_named(tmp_path, tiny_coco):
    root = _write(tmp_path, tiny_coco, _break_boxes)
    with pytest.raises(DatasetError, match=r'4 box\(es\) would be dropped: 1 with width or '
                       r'height below 1 px .*annotation id 1.*; 1 outside their image .*'
                       r'annotation id 4.*; 2 of a category_id not in categories .*'
                       r'category_id 7, categories \[1, 2, 3, 4, 5, 6\].*drop_invalid_boxes'):
        build(root)
    ds = build(root, drop_invalid_boxes=True)  # the explicit opt-out: dropped, reported
    kept = sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds)))
    total = len(json.load(open(root / 'annotations' / 'instances_val.json'))['annotations'])
    assert kept == total - 4


def test_sets_without_usable_boxes_are_refused(tmp_path, tiny_coco):
    def no_boxes(data):
        data['annotations'] = []
    root = _write(tmp_path, tiny_coco, no_boxes, split='train')
    init_default_scope('mmdet')
    with pytest.raises(DatasetError, match=r'12 images, 0 usable boxes'):
        ValidatedCocoDataset(data_root=str(root) + '/', ann_file='annotations/instances_train.json',
                             data_prefix=dict(img='train/'), pipeline=[],
                             metainfo=dict(classes=('circle', 'triangle')))
    root = _write(tmp_path / 'val', tiny_coco, no_boxes)
    with pytest.raises(DatasetError, match=r'holds no box .* every COCO metric would be -1'):
        build(root, test_mode=True)
    assert len(build(root, test_mode=True, allow_empty_gt=True)) == 6


def test_images_that_cannot_be_decoded_are_named(tmp_path, tiny_coco, monkeypatch):
    monkeypatch.setenv('DETNAS_CACHE_DIR', str(tmp_path / 'cache'))
    root = tmp_path / 'copy'
    shutil.copytree(tiny_coco, root)
    data = (root / 'val' / 'val_00001.jpg').read_bytes()
    (root / 'val' / 'val_00001.jpg').write_bytes(data[:len(data) // 2])  # a cut download
    (root / 'val' / 'val_00003.jpg').write_bytes(b'<html>404 Not Found</html>' * 20)
    with pytest.raises(DatasetError, match=r"2 image file\(s\) listed in '.*instances_val.json' "
                       r'cannot be decoded \(truncated or not an image\), e\.g\. .*val_00001.jpg '
                       r'\(OSError: image file is truncated.*val_00003.jpg \(not an image.*'
                       r'remove them from the annotation file'):
        build(root)
    assert len(build(root, decode_images=False)) == 6  # the opt-out: existence only
