"""VOC / YOLO / CSV -> COCO (detnas.datasets.convert, tools/dataset/convert.py).

The same scene in the three formats, in pixel edges (x0, y0, x1, y1):

* a.jpg, 64x48: dog [10, 5, 30, 25] (kept); cat [50, 40, 80, 60] (clipped to
  [50, 40, 64, 48]); cat [70, 0, 80, 10] (outside); cat [4, 4, 4, 10] (zero width);
* b.png, 32x40: bird [1, 2, 9, 12] (not in the class list cat,dog); dog
  [2.5, 3.5, 12.5, 23.5] (kept, sub-pixel edges);
* c.jpg: labelled but not on disk (a cat);
* d.jpg, 20x20: listed without boxes (kept as a background image).
"""
import json
import os

import pytest
from helpers import run_tool
from PIL import Image

from detnas.datasets.coco import invalid_boxes
from detnas.datasets.convert import (SourceBox, SourceImage, build_coco, convert, format_report,
                                     read_classes_file, report_path)
from detnas.datasets.convert.writer import image_size
from detnas.utils.errors import DetnasInputError

VOC = {
    'a.xml': '<annotation><filename>a.jpg</filename>'
             '<size><width>64</width><height>48</height><depth>3</depth></size>'
             + ''.join(f'<object><name>{n}</name><difficult>0</difficult><bndbox><xmin>{b[0]}'
                       f'</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax>'
                       '</bndbox></object>'
                       # VOC is 1-based inclusive: xmin, ymin are the pixel edges + 1
                       for n, b in [('dog', (11, 6, 30, 25)), ('cat', (51, 41, 80, 60)),
                                    ('cat', (71, 1, 80, 10)), ('cat', (5, 5, 4, 10))])
             + '</annotation>',
    'b.xml': '<annotation><filename>b.png</filename>'  # no <size>: read from the image
             '<object><name>bird</name><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>9</xmax>'
             '<ymax>12</ymax></bndbox></object>'
             '<object><name>dog</name><bndbox><xmin>3.5</xmin><ymin>4.5</ymin>'
             '<xmax>12.5</xmax><ymax>23.5</ymax></bndbox></object></annotation>',
    'c.xml': '<annotation><filename>c.jpg</filename><object><name>cat</name><bndbox>'
             '<xmin>2</xmin><ymin>2</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object>'
             '</annotation>',
    'd.xml': '<annotation><filename>d.jpg</filename></annotation>',
}
YOLO = {  # class cx cy w h as fractions of the image; classes cat=0, dog=1 (bird: 2)
    'a.txt': '1 0.3125 0.3125 0.3125 0.416667\n'
             '0 1.015625 1.041667 0.46875 0.416667\n'
             '0 1.171875 0.104167 0.15625 0.208333\n'
             '0 0.0625 0.145833 0 0.125\n',
    'b.txt': '2 0.15625 0.175 0.25 0.25\n'
             '1 0.234375 0.3375 0.3125 0.5\n',
    'c.txt': '0 0.5 0.5 0.5 0.5\n',
    'd.txt': '',
    'classes.txt': 'cat\ndog\n',  # LabelImg writes it here: not a label file
}
CSV = ('image,xmin,ymin,xmax,ymax,label\n'
       'a.jpg,10,5,30,25,dog\n'
       'a.jpg,50,40,80,60,cat\n'
       'a.jpg,70,0,80,10,cat\n'
       'a.jpg,4,4,4,10,cat\n'
       'b.png,1,2,9,12,bird\n'
       'b.png,2.5,3.5,12.5,23.5,dog\n'
       'c.jpg,1,1,5,5,cat\n'
       'd.jpg,,,,,\n')

# where each format's report points: (a's 2nd, 3rd, 4th box, b's 1st box, c's label file)
WHERE = dict(voc=('a.xml object 2', 'a.xml object 3', 'a.xml object 4', 'b.xml object 1',
                  'c.xml'),
             yolo=('a.txt:2', 'a.txt:3', 'a.txt:4', 'b.txt:1', 'c.txt'),
             csv=('boxes.csv:3', 'boxes.csv:4', 'boxes.csv:5', 'boxes.csv:6', 'boxes.csv'))
# the missing image by name (YOLO finds images by stem: c.txt has no c.<ext>) and the
# unknown class as the format names it
MISSING = dict(voc='c.jpg', yolo='c.*', csv='c.jpg')
UNKNOWN = dict(voc="'bird'", yolo="'#2'", csv="'bird'")

EXPECTED_COCO = dict(
    licenses=[],
    images=[dict(id=1, file_name='a.jpg', width=64, height=48),
            dict(id=2, file_name='b.png', width=32, height=40),
            dict(id=3, file_name='d.jpg', width=20, height=20)],
    annotations=[
        dict(id=1, image_id=1, category_id=2, bbox=[10.0, 5.0, 20.0, 20.0], area=400.0,
             iscrowd=0),
        dict(id=2, image_id=1, category_id=1, bbox=[50.0, 40.0, 14.0, 8.0], area=112.0,
             iscrowd=0),
        dict(id=3, image_id=2, category_id=2, bbox=[2.5, 3.5, 10.0, 20.0], area=200.0,
             iscrowd=0)],
    categories=[dict(id=1, name='cat'), dict(id=2, name='dog')])


def make_images(root, names=('a.jpg', 'b.png', 'd.jpg')):
    """The scene's images (c.jpg stays missing)."""
    sizes = {'a.jpg': (64, 48), 'b.png': (32, 40), 'd.jpg': (20, 20)}
    img_dir = root / 'images'
    img_dir.mkdir(exist_ok=True)
    for name in names:
        Image.new('RGB', sizes[name], (90, 120, 150)).save(img_dir / name)
    return str(img_dir)


def write_labels(root, fmt):
    """The scene's labels in ``fmt``; returns SRC."""
    if fmt == 'csv':
        (root / 'boxes.csv').write_text(CSV)
        return str(root / 'boxes.csv')
    src = root / 'labels'
    src.mkdir()
    for name, text in (VOC if fmt == 'voc' else YOLO).items():
        (src / name).write_text(text)
    return str(src)


def expected_report(fmt, src, img_dir, out):
    a2, a3, a4, b1, c = WHERE[fmt]

    def group(what, items):
        return dict(what=what, count=len(items), items=items)
    return dict(
        format=fmt, source=src, images=img_dir, out=out, classes=['cat', 'dog'],
        class_source='given',
        kept=dict(images=3, boxes=3, images_without_boxes=1,
                  boxes_per_class=dict(cat=1, dog=2)),
        clipped=group('stuck out of the image: clipped to it and kept (boxes as x0, y0, x1, '
                      'y1 px)', [f'{a2}: [50, 40, 80, 60] -> [50, 40, 64, 48] in a 64x48 '
                                 'image']),
        dropped=dict(
            image_missing=group('image listed but not in the images folder (dropped with its '
                                'boxes)', [f'{MISSING[fmt]} (from {c}, 1 box)']),
            image_unreadable=group('image file empty or not decodable (dropped with its '
                                   'boxes)', []),
            size_mismatch=group('image size differs from the size its annotation file states '
                                '(dropped with its boxes)', []),
            unknown_class=group('class not in the class list', [f'{b1}: {UNKNOWN[fmt]}']),
            empty_box=group('width or height under 1 px', [f'{a4}: [4, 4, 4, 10]']),
            outside_image=group('under 1 px of its width or height inside the image',
                                [f'{a3}: [70, 0, 80, 10] in a 64x48 image'])))


@pytest.mark.parametrize('fmt', ['voc', 'yolo', 'csv'])
def test_each_format_gives_the_exact_coco_and_report(tmp_path, fmt):
    img_dir, src = make_images(tmp_path), write_labels(tmp_path, fmt)
    out = str(tmp_path / 'out' / 'train.json')
    report = convert(fmt, src, img_dir, out, classes=['cat', 'dog'])
    coco = json.load(open(out))
    assert coco == dict(info=dict(description=f'converted by detnas from {fmt} labels {src}'),
                        **EXPECTED_COCO)
    assert report == expected_report(fmt, src, img_dir, out)
    assert json.load(open(report_path(out))) == report
    # written atomically: the two files and no temp file
    assert sorted(os.listdir(tmp_path / 'out')) == ['train.json', 'train.report.json']


def test_printed_report_shows_the_first_items_and_the_count(tmp_path):
    img_dir, src = make_images(tmp_path), write_labels(tmp_path, 'csv')
    report = convert('csv', src, img_dir, str(tmp_path / 'out.json'), classes=['cat', 'dog'])
    report['dropped']['empty_box']['items'] += ['more 1', 'more 2']
    report['dropped']['empty_box']['count'] = 3
    assert format_report(report, shown=2).splitlines() == [
        'kept 3 images (1 without boxes), 3 boxes',
        'categories (as given; id name (boxes)): 1 cat (1), 2 dog (2)',
        'clipped: 1 -- stuck out of the image: clipped to it and kept (boxes as x0, y0, x1, '
        'y1 px)',
        '    boxes.csv:3: [50, 40, 80, 60] -> [50, 40, 64, 48] in a 64x48 image',
        'dropped, image_missing: 1 -- image listed but not in the images folder (dropped with '
        'its boxes)',
        '    c.jpg (from boxes.csv, 1 box)',
        'dropped, unknown_class: 1 -- class not in the class list',
        "    boxes.csv:6: 'bird'",
        'dropped, empty_box: 3 -- width or height under 1 px',
        '    boxes.csv:5: [4, 4, 4, 10]',
        '    more 1',
        '    ... and 1 more',
        'dropped, outside_image: 1 -- under 1 px of its width or height inside the image',
        '    boxes.csv:4: [70, 0, 80, 10] in a 64x48 image']


@pytest.mark.parametrize('fmt', ['voc', 'csv'])
def test_classes_from_the_data_are_sorted_whatever_the_file_order(tmp_path, fmt):
    img_dir, src = make_images(tmp_path), write_labels(tmp_path, fmt)
    report = convert(fmt, src, img_dir, str(tmp_path / 'a.json'))
    coco = json.load(open(tmp_path / 'a.json'))
    assert coco['categories'] == [dict(id=1, name='bird'), dict(id=2, name='cat'),
                                  dict(id=3, name='dog')]
    # dog, cat (clipped), bird, dog: the bird is kept now
    assert [(a['image_id'], a['category_id'], a['bbox']) for a in coco['annotations']] == [
        (1, 3, [10.0, 5.0, 20.0, 20.0]), (1, 2, [50.0, 40.0, 14.0, 8.0]),
        (2, 1, [1.0, 2.0, 8.0, 10.0]), (2, 3, [2.5, 3.5, 10.0, 20.0])]
    assert report['class_source'] == 'data' and report['dropped']['unknown_class']['count'] == 0
    if fmt == 'csv':  # rows reversed: the same categories, images and boxes (the
        # annotation ids follow the rows within an image)
        header, *rows = CSV.splitlines()
        (tmp_path / 'boxes.csv').write_text('\n'.join([header] + rows[::-1]) + '\n')
        convert(fmt, src, img_dir, str(tmp_path / 'b.json'))
        other = json.load(open(tmp_path / 'b.json'))
        assert other['categories'] == coco['categories'] and other['images'] == coco['images']

        def boxes(c):
            return sorted((a['image_id'], a['category_id'], a['bbox']) for a in c['annotations'])
        assert boxes(other) == boxes(coco)


def test_voc_difficult_size_mismatch_unreadable_image_and_name_from_stem(tmp_path):
    img_dir = make_images(tmp_path, names=('a.jpg', 'b.png'))
    (tmp_path / 'images' / 'e.jpg').write_bytes(b'')  # 0 bytes
    (tmp_path / 'images' / 'f.jpg').write_bytes(b'<html>404</html>')
    src = tmp_path / 'labels'
    src.mkdir()
    box = '<bndbox><xmin>3</xmin><ymin>3</ymin><xmax>10</xmax><ymax>12</ymax></bndbox>'
    (src / 'a.xml').write_text(  # states 64x48 like the image; difficult -> crowd
        '<annotation><filename>a.jpg</filename><size><width>64</width><height>48</height>'
        f'</size><object><name>cat</name><difficult>1</difficult>{box}</object></annotation>')
    (src / 'b.xml').write_text(  # no <filename>: the image named like the xml; wrong size
        '<annotation><size><width>40</width><height>32</height></size>'
        f'<object><name>cat</name>{box}</object></annotation>')
    for name in ('e', 'f'):
        (src / f'{name}.xml').write_text(f'<annotation><filename>{name}.jpg</filename>'
                                         f'<object><name>cat</name>{box}</object></annotation>')
    report = convert('voc', str(src), img_dir, str(tmp_path / 'out.json'))
    coco = json.load(open(tmp_path / 'out.json'))
    assert coco['images'] == [dict(id=1, file_name='a.jpg', width=64, height=48)]
    assert coco['annotations'] == [dict(id=1, image_id=1, category_id=1,
                                        bbox=[2.0, 2.0, 8.0, 10.0], area=80.0, iscrowd=1)]
    dropped = {k: v['items'] for k, v in report['dropped'].items() if v['count']}
    assert dropped == {
        'size_mismatch': ['b.png (from b.xml): the file states 40x32, the image is 32x40'],
        'image_unreadable': ['e.jpg (from e.xml): empty file (0 bytes)',
                             'f.jpg (from f.xml): not an image Pillow can read']}


def test_box_rules_at_their_1_px_boundaries(tmp_path):
    img_dir = make_images(tmp_path, names=('d.jpg',))  # 20x20
    boxes = [('1 px wide', (5, 5, 6, 9)),  # kept
             ('0.999 px wide', (5, 5, 5.999, 9)),  # empty
             ('inverted', (9, 5, 5, 9)),  # empty
             ('1 px inside', (-10, 2, 1, 9)),  # clipped to [0, 2, 1, 9]
             ('0.5 px inside', (19.5, 2, 30, 9)),  # outside
             ('touching the bottom edge', (2, 20, 9, 25)),  # outside
             ('whole image and more', (-1, -1, 21, 21))]  # clipped to the image
    image = SourceImage('d.jpg', 'd.txt', [SourceBox('cat', b, w) for w, b in boxes])
    coco, report = build_coco([image], img_dir)
    assert [a['bbox'] for a in coco['annotations']] == [
        [5.0, 5.0, 1.0, 4.0], [0.0, 2.0, 1.0, 7.0], [0.0, 0.0, 20.0, 20.0]]
    assert [a['area'] for a in coco['annotations']] == [4.0, 7.0, 400.0]
    assert report['clipped']['items'] == [
        '1 px inside: [-10, 2, 1, 9] -> [0, 2, 1, 9] in a 20x20 image',
        'whole image and more: [-1, -1, 21, 21] -> [0, 0, 20, 20] in a 20x20 image']
    dropped = {k: v['items'] for k, v in report['dropped'].items() if v['count']}
    assert dropped == {
        'empty_box': ['0.999 px wide: [5, 5, 5.999, 9]', 'inverted: [9, 5, 5, 9]'],
        'outside_image': ['0.5 px inside: [19.5, 2, 30, 9] in a 20x20 image',
                          'touching the bottom edge: [2, 20, 9, 25] in a 20x20 image']}
    assert not any(invalid_boxes(coco).values())  # nothing mmdet would drop silently


def test_image_size_follows_exif_orientation(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated a quarter turn: shown 20 wide, 30 high
    Image.new('RGB', (30, 20)).save(tmp_path / 'r.jpg', exif=exif)
    Image.new('RGB', (30, 20)).save(tmp_path / 'p.jpg')
    assert image_size(str(tmp_path / 'r.jpg')) == (20, 30)
    assert image_size(str(tmp_path / 'p.jpg')) == (30, 20)


def test_classes_file_as_text_or_yolo_yaml(tmp_path):
    (tmp_path / 'c.txt').write_text('cat\n\ndog\n')
    (tmp_path / 'list.yaml').write_text('names: [cat, dog]\n')
    (tmp_path / 'dict.yaml').write_text('names: {0: cat, 1: dog}\n')
    for name in ('c.txt', 'list.yaml', 'dict.yaml'):
        assert read_classes_file(str(tmp_path / name)) == ['cat', 'dog']


@pytest.mark.parametrize('fmt,labels,classes,match', [
    ('yolo', {'a.txt': '0 0.5 0.5 0.2 0.2\n'}, None,
     r'YOLO labels hold class indices.*--classes-file FILE'),
    ('yolo', {'a.txt': '0 0.5 0.5 0.2\n'}, ['cat'],
     r"'.*a.txt' line 1 has 4 values; a YOLO box line is 5"),
    ('yolo', {'a.txt': '0.5 0.5 0.5 0.2 0.2\n'}, ['cat'], r"line 1: class '0.5' is not"),
    ('voc', {'a.xml': '<annotation><object>'}, None, r"'.*a.xml' is not valid xml"),
    ('voc', {'a.xml': '<annotation><object><name>cat</name><bndbox><xmin>x</xmin></bndbox>'
                      '</object></annotation>'}, None,
     r"a.xml': <object> 1 <xmin>: expected a number, got 'x'"),
    ('voc', {'a.xml': '<annotation><filename>a.jpg</filename></annotation>',
             'b.xml': '<annotation><filename>a.jpg</filename></annotation>'}, None,
     r"'a.xml' and 'b.xml' both label image 'a.jpg'"),
    ('csv', 'a.jpg,1,2,3,4\n', None, r"boxes.csv' line 1 has 5 columns; expected 6"),
    ('csv', 'image,xmin,ymin,xmax,ymax,label\na.jpg,1,2,,4,cat\n', None,
     r'line 2 has empty cells'),
])
def test_malformed_labels_name_the_file_and_line(tmp_path, fmt, labels, classes, match):
    img_dir = make_images(tmp_path, names=('a.jpg',))
    if fmt == 'csv':
        src = tmp_path / 'boxes.csv'
        src.write_text(labels)
    else:
        src = tmp_path / 'labels'
        src.mkdir()
        for name, text in labels.items():
            (src / name).write_text(text)
    with pytest.raises(DetnasInputError, match=match):
        convert(fmt, str(src), img_dir, str(tmp_path / 'out.json'), classes)
    assert not (tmp_path / 'out.json').exists()


def test_tool_refuses_a_missing_source_with_exit_2(tmp_path):
    img_dir = make_images(tmp_path, names=('a.jpg',))
    missing, out = str(tmp_path / 'no_labels'), str(tmp_path / 'out.json')
    proc = run_tool(['tools/dataset/convert.py', 'voc', missing, '--images', img_dir,
                     '--out', out], timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"error: voc labels '{missing}' do not exist; give a folder of "
                           'Pascal VOC .xml files\n')
    assert not os.path.exists(out)


def test_converted_json_loads_in_the_validated_dataset(tmp_path):
    from mmengine.registry import init_default_scope

    from detnas.datasets import ValidatedCocoDataset
    img_dir, src = make_images(tmp_path), write_labels(tmp_path, 'yolo')
    out = str(tmp_path / 'train.json')
    convert('yolo', src, img_dir, out, classes=['cat', 'dog'])
    init_default_scope('mmdet')
    ds = ValidatedCocoDataset(data_root='', ann_file=out, data_prefix=dict(img=img_dir + '/'),
                              metainfo=dict(classes=('cat', 'dog')), pipeline=[],
                              filter_cfg=dict(filter_empty_gt=False))
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [os.path.basename(i['img_path']) for i in infos] == ['a.jpg', 'b.png', 'd.jpg']
    assert [[(b['bbox'], b['bbox_label'], b['ignore_flag']) for b in i['instances']]
            for i in infos] == [
        [([10.0, 5.0, 30.0, 25.0], 1, 0), ([50.0, 40.0, 64.0, 48.0], 0, 0)],
        [([2.5, 3.5, 12.5, 23.5], 1, 0)],
        []]
