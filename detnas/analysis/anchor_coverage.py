"""How well a detector's anchors cover a data set's boxes: for each ground-truth box, its best
anchor IoU and how many anchors reach the assigner's positive threshold. Boxes that no
anchor reaches train on a single low-quality match (``min_pos_iou``), which slows learning
on them; a share well above zero means the anchor sizes do not suit the data."""
from typing import Dict, Iterable, Sequence

import numpy as np
import torch
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from mmdet.structures.bbox import bbox_overlaps

SMALL_AREA = 32 ** 2  # COCO's small-object bound


def anchor_coverage(anchor_generator: dict, boxes_by_image: Iterable[np.ndarray],
                    image_shape: Sequence[int], pos_iou_thr: float) -> Dict[str, float]:
    """Coverage of the boxes by the anchors of one input shape.

    Args:
        anchor_generator: the head's ``anchor_generator`` config (an ``AnchorGenerator``).
        boxes_by_image: per image, an ``(n, 4)`` array of x1, y1, x2, y2 in input pixels.
        image_shape: (height, width) of the network input.
        pos_iou_thr: the assigner's positive IoU threshold.

    Returns:
        ``boxes``, ``uncovered`` (share of boxes with no anchor at IoU >= ``pos_iou_thr``),
        ``uncovered_small`` (the same among boxes under 32x32 px), ``median_best_iou`` and
        ``median_positives`` (anchors at IoU >= ``pos_iou_thr`` per box).
    """
    cfg = {k: v for k, v in anchor_generator.items() if k != 'type'}
    generator = AnchorGenerator(**cfg)
    height, width = image_shape
    sizes = [(-(-height // s[0]), -(-width // s[1])) for s in generator.strides]
    anchors = torch.cat(generator.grid_priors(sizes, device='cpu'))
    best, positives, small = [], [], []
    for boxes in boxes_by_image:
        boxes = torch.as_tensor(np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
        if not len(boxes):
            continue
        iou = bbox_overlaps(boxes, anchors)
        best.append(iou.max(1).values.numpy())
        positives.append((iou >= pos_iou_thr).sum(1).numpy())
        small.append(((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).numpy()
                     < SMALL_AREA)
    best, positives, small = (np.concatenate(x) for x in (best, positives, small))
    missed = positives == 0
    return dict(boxes=int(len(best)), uncovered=float(missed.mean()),
                uncovered_small=float(missed[small].mean()) if small.any() else float('nan'),
                median_best_iou=float(np.median(best)),
                median_positives=float(np.median(positives)))
