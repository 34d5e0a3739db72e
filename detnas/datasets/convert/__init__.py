"""Your own data set as COCO json: converters from Pascal VOC xml folders, YOLO txt label
folders and CSV files (``image,xmin,ymin,xmax,ymax,label``, one box a row) to a COCO
annotation file that :class:`~detnas.datasets.ValidatedCocoDataset` loads.

One reader per format (:mod:`.readers`) and one writer for all (:mod:`.writer`: the
rules for missing images, unknown classes, empty, outside and clipped boxes, and the
report). The command is ``tools/dataset/convert.py`` (``detnas convert``).
"""
import os.path as osp
from typing import Optional, Sequence

from ...utils.errors import DetnasInputError
from .readers import (READERS, SourceBox, SourceImage, parse_classes, read_classes_file,
                      read_csv, read_voc, read_yolo)
from .writer import REASONS, build_coco, format_report

__all__ = ['convert', 'report_path', 'READERS', 'REASONS', 'SourceBox', 'SourceImage',
           'build_coco', 'format_report', 'parse_classes', 'read_classes_file', 'read_csv',
           'read_voc', 'read_yolo']


def convert(fmt: str, src: str, images_dir: str, out: str,
            classes: Optional[Sequence[str]] = None) -> dict:
    """Converts labels to a COCO json and writes it with its report, both atomically.

    Args:
        fmt: ``'voc'``, ``'yolo'`` or ``'csv'``.
        src: the labels: a folder of ``.xml`` (voc) or ``.txt`` (yolo) files, or a CSV file.
        images_dir: the images folder; the json's ``file_name`` entries are relative to it.
        out: the COCO json to write; the report goes to :func:`report_path` of it.
        classes: the class list (category ids 1.. in this order; boxes of other classes are
            dropped). Required for yolo; default for voc and csv: every label, sorted.

    Returns:
        the report (also in ``report_path(out)``): ``format``, ``source``, ``images``,
        ``out``, then :func:`.writer.build_coco`'s report.

    Raises:
        DetnasInputError: a missing or malformed input; the message names the file.
    """
    from ...utils.io import atomic_write_json
    if fmt not in READERS:
        raise DetnasInputError(f'unknown label format {fmt!r}; choose one of {list(READERS)}')
    if not osp.isdir(images_dir):
        raise DetnasInputError(f'images folder {images_dir!r} does not exist; give the folder '
                               'that the image names in the labels are relative to')
    records = READERS[fmt](src, images_dir, classes)
    coco, report = build_coco(records, images_dir, classes,
                              description=f'converted by detnas from {fmt} labels {src}',
                              decode_cache_key=out)
    report = dict(format=fmt, source=src, images=images_dir, out=out, **report)
    atomic_write_json(out, coco)
    atomic_write_json(report_path(out), report)
    return report


def report_path(out: str) -> str:
    """Where the report of ``out`` goes: ``train.json`` -> ``train.report.json``."""
    return (out[:-len('.json')] if out.endswith('.json') else out) + '.report.json'
