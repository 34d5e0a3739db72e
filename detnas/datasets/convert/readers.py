"""One reader per label format: Pascal VOC xml, YOLO txt and CSV. Each turns its source
into :class:`SourceImage` records and checks only the syntax (a malformed file is a
:class:`DetnasInputError` naming the file and line); the boxes and images are validated by
the shared writer (:mod:`.writer`)."""
import csv
import math
import os
import os.path as osp
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from ...utils.errors import DetnasInputError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
CSV_COLUMNS = ('image', 'xmin', 'ymin', 'xmax', 'ymax', 'label')


@dataclass
class SourceBox:
    """One box as its label file gives it.

    Args:
        label: class name (YOLO: the name of its index in the class list, ``'#7'`` for an
            index outside it).
        xyxy: left, top, right and bottom edges in pixels (with ``relative``: as fractions of
            the image's width and height).
        where: where the box is written, for the report (``'a.xml object 2'``, ``'a.txt:3'``).
        relative: ``xyxy`` are fractions of the image size (YOLO).
        crowd: COCO's ``iscrowd`` (VOC's ``difficult``: mmdet ignores the box in training and
            COCO evaluation does not count it).
    """
    label: str
    xyxy: Tuple[float, float, float, float]
    where: str
    relative: bool = False
    crowd: bool = False


@dataclass
class SourceImage:
    """One image and its boxes.

    Args:
        file_name: the image's path relative to the images folder (``'a.*'`` when the reader
            found no image file for a label file: the writer reports it missing).
        where: its annotation file (or the CSV), for the report.
        boxes: its boxes in file order.
        size: ``(width, height)`` as the annotation file states it (VOC), or None.
    """
    file_name: str
    where: str
    boxes: List[SourceBox] = field(default_factory=list)
    size: Optional[Tuple[int, int]] = None


def read_voc(src: str, images_dir: str,
             classes: Optional[Sequence[str]] = None) -> List[SourceImage]:
    """Reads a folder of Pascal VOC ``.xml`` files (one per image).

    The image is ``<filename>`` in the images folder (without it: the image whose name is
    the xml's stem); ``<size>`` gives its size when both numbers are positive. VOC pixel
    indices are 1-based and inclusive, so a box's edges are ``(xmin - 1, ymin - 1, xmax,
    ymax)`` (a box over a whole 64 px wide image is ``xmin=1, xmax=64``). ``difficult=1``
    objects become crowd boxes.

    Args:
        src: the folder of xml files (not searched recursively).
        images_dir: the images folder.
        classes: unused (VOC files name their classes).
    """
    stems = None
    images = []
    for path in _label_files(src, '.xml', 'voc', 'a folder of Pascal VOC .xml files'):
        name = osp.basename(path)
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            raise DetnasInputError(f'{path!r} is not valid xml ({e}); fix or remove it') from None
        if root.tag != 'annotation':
            raise DetnasInputError(f'{path!r} is not a Pascal VOC annotation (its root is '
                                   f'<{root.tag}>, expected <annotation>); remove it from {src!r}')
        file_name = (root.findtext('filename') or '').strip()
        if not file_name:
            stems = _index_by_stem(images_dir) if stems is None else stems
            stem = osp.splitext(name)[0]
            file_name = _find_by_stem(stems, stem, path) or f'{stem}.*'
        width = _number(root.findtext('size/width') or '0', f'{path!r}: <size><width>')
        height = _number(root.findtext('size/height') or '0', f'{path!r}: <size><height>')
        size = (int(width), int(height)) if width > 0 and height > 0 else None
        boxes = []
        for k, obj in enumerate(root.findall('object'), 1):
            label = (obj.findtext('name') or '').strip()
            bndbox = obj.find('bndbox')
            if not label or bndbox is None:
                raise DetnasInputError(f'{path!r}: <object> {k} lacks a <name> or a <bndbox>; '
                                       'give both, or remove the object')
            x0, y0, x1, y1 = (_number(bndbox.findtext(tag), f'{path!r}: <object> {k} <{tag}>')
                              for tag in ('xmin', 'ymin', 'xmax', 'ymax'))
            difficult = (obj.findtext('difficult') or '0').strip() not in ('0', '', 'false')
            boxes.append(SourceBox(label, (x0 - 1, y0 - 1, x1, y1), f'{name} object {k}',
                                   crowd=difficult))
        images.append(SourceImage(file_name, name, boxes, size))
    return images


def read_yolo(src: str, images_dir: str,
              classes: Optional[Sequence[str]] = None) -> List[SourceImage]:
    """Reads a folder of YOLO ``.txt`` label files: one per image, named like it, a line
    ``class cx cy w h`` per box (class index, then centre and size as fractions of the
    image). An empty file is an image without boxes; an image without a label file is not
    included; ``classes.txt`` in the folder is not a label file.

    Args:
        src: the folder of txt files (not searched recursively).
        images_dir: the images folder (the image of ``a.txt`` is ``a.<image extension>``).
        classes: the class names; line ``i`` names class index ``i``.
    """
    if not classes:
        hint = osp.join(src, 'classes.txt')
        hint = f'--classes-file {hint}' if osp.isfile(hint) else '--classes-file FILE'
        raise DetnasInputError('YOLO labels hold class indices, not names: give the names with '
                               f'{hint} (one name a line, line i naming class i, or a YOLO '
                               'data .yaml with names) or --classes a,b,c')
    stems = _index_by_stem(images_dir)
    images = []
    for path in _label_files(src, '.txt', 'yolo', 'a folder of YOLO .txt label files'):
        name = osp.basename(path)
        if name == 'classes.txt':
            continue
        stem = osp.splitext(name)[0]
        boxes = []
        for n, line in enumerate(_read_lines(path), 1):
            parts = line.split()
            if not parts:
                continue
            where = f'{path!r} line {n}'
            if len(parts) != 5:
                raise DetnasInputError(
                    f'{where} has {len(parts)} values; a YOLO box line is 5: class cx cy w h '
                    '(centre and size as fractions of the image; polygon labels are not read)')
            index = _number(parts[0], f'{where}: class')
            if index != int(index):
                raise DetnasInputError(f'{where}: class {parts[0]!r} is not a class index')
            cx, cy, w, h = (_number(p, where) for p in parts[1:])
            index = int(index)
            label = classes[index] if 0 <= index < len(classes) else f'#{index}'
            boxes.append(SourceBox(label, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
                                   f'{name}:{n}', relative=True))
        images.append(SourceImage(_find_by_stem(stems, stem, path) or f'{stem}.*', name,
                                  boxes))
    return images


def read_csv(src: str, images_dir: str,
             classes: Optional[Sequence[str]] = None) -> List[SourceImage]:
    """Reads a CSV file ``image,xmin,ymin,xmax,ymax,label``, one box a row, in pixels (box
    edges: ``xmax - xmin`` is the width). A first row that is not numbers is a header; a
    row whose five box cells are empty lists an image without boxes.

    Args:
        src: the CSV file.
        images_dir: unused (``image`` is relative to it).
        classes: unused (rows name their classes).
    """
    if not osp.isfile(src):
        raise DetnasInputError(f'csv labels {src!r} do not exist; give a CSV file with rows '
                               f'{",".join(CSV_COLUMNS)}')
    name = osp.basename(src)
    images: Dict[str, SourceImage] = {}
    rows = 0
    for n, row in enumerate(csv.reader(_read_lines(src)), 1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        rows += 1
        where = f'{src!r} line {n}'
        if rows == 1 and len(cells) == len(CSV_COLUMNS) and not any(
                _is_number(c) for c in cells[1:5]):
            continue  # a header
        if len(cells) != len(CSV_COLUMNS):
            raise DetnasInputError(f'{where} has {len(cells)} columns; expected '
                                   f'{len(CSV_COLUMNS)}: {",".join(CSV_COLUMNS)}')
        file_name, coords, label = cells[0], cells[1:5], cells[5]
        if not file_name:
            raise DetnasInputError(f'{where} names no image')
        image = images.setdefault(file_name, SourceImage(file_name, name))
        if not any(coords) and not label:
            continue  # the image without boxes
        if not all(coords) or not label:
            raise DetnasInputError(f'{where} has empty cells; give xmin,ymin,xmax,ymax and '
                                   'label, or leave all five empty for an image without boxes')
        x0, y0, x1, y1 = (_number(c, where) for c in coords)
        image.boxes.append(SourceBox(label, (x0, y0, x1, y1), f'{name}:{n}'))
    if not images:
        raise DetnasInputError(f'{src!r} holds no rows; expected {",".join(CSV_COLUMNS)}')
    return list(images.values())


READERS = dict(voc=read_voc, yolo=read_yolo, csv=read_csv)


def parse_classes(text: str) -> List[str]:
    """The class names of ``'a,b,c'``, checked (:func:`check_classes`)."""
    return check_classes([c.strip() for c in text.split(',')], '--classes')


def read_classes_file(path: str) -> List[str]:
    """The class names in a file: one a line, or ``names`` of a YOLO data ``.yaml`` (a list,
    or a dict from index to name), checked (:func:`check_classes`)."""
    if path.lower().endswith(('.yaml', '.yml')):
        from ...utils.io import read_data_file
        names = (read_data_file(path, 'classes file') or {})
        names = names.get('names') if isinstance(names, dict) else None
        if isinstance(names, dict) and sorted(names) == list(range(len(names))):
            names = [names[i] for i in range(len(names))]
        if not isinstance(names, list):
            raise DetnasInputError(f'classes file {path!r} has no list "names" (or dict from '
                                   'index 0..n-1 to name); give one, or a text file with one '
                                   'name a line')
        return check_classes([str(n).strip() for n in names], f'classes file {path!r}')
    if not osp.isfile(path):
        raise DetnasInputError(f'classes file {path!r} does not exist')
    return check_classes([line.strip() for line in _read_lines(path) if line.strip()],
                         f'classes file {path!r}')


def check_classes(names: List[str], what: str) -> List[str]:
    """``names`` if none is empty or repeated (else a DetnasInputError naming ``what``)."""
    if not names or not all(names):
        raise DetnasInputError(f'{what} has an empty class name: give the names, e.g. '
                               'cat,dog')
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DetnasInputError(f'{what} repeats {repeated}; give each class once')
    return names


def _label_files(src: str, ext: str, fmt: str, what: str) -> List[str]:
    if not osp.isdir(src):
        raise DetnasInputError(f'{fmt} labels {src!r} ' + ('is not a folder' if osp.exists(src)
                                                           else 'do not exist') + f'; give {what}')
    files = sorted(osp.join(src, f) for f in os.listdir(src) if f.lower().endswith(ext))
    if not files:
        raise DetnasInputError(f'{fmt} labels folder {src!r} holds no {ext} file; give {what}')
    return files


def _read_lines(path: str) -> List[str]:
    try:
        with open(path, encoding='utf-8-sig', newline='') as f:
            return f.read().splitlines()
    except UnicodeDecodeError as e:
        raise DetnasInputError(f'{path!r} is not UTF-8 text ({e})') from None


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _number(text: Optional[str], where: str) -> float:
    if text is None or not _is_number(text.strip()):
        raise DetnasInputError(f'{where}: expected a number, got {text!r}')
    return float(text)


def _index_by_stem(images_dir: str) -> Dict[str, List[str]]:
    """The image files of ``images_dir`` by name without extension."""
    stems: Dict[str, List[str]] = {}
    if osp.isdir(images_dir):
        for f in sorted(os.listdir(images_dir)):
            stem, ext = osp.splitext(f)
            if ext.lower() in IMAGE_EXTENSIONS:
                stems.setdefault(stem, []).append(f)
    return stems


def _find_by_stem(stems: Dict[str, List[str]], stem: str, label_file: str) -> Optional[str]:
    found = stems.get(stem, [])
    if len(found) > 1:
        raise DetnasInputError(f'{label_file!r} could label any of {found}; keep one image '
                               'per name in the images folder')
    return found[0] if found else None
