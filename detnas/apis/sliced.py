"""Sliced inference: a large image is cut into overlapping tiles at the detector's own
input scale, so small objects keep their pixels; the tiles' detections (plus, optionally,
one pass over the whole image for the large objects) are shifted back and merged by
class-wise NMS (the idea of SAHI, Akyon et al. 2022).

A box that touches a tile edge inside the image is cut by that edge; it is dropped, since
the overlap places every object smaller than it whole inside a neighbouring tile, and the
whole-image pass covers the larger ones.
"""
from typing import List

import numpy as np
import torch

from ..datasets.tiling import tile_windows
from .predict import predict_images


def _inside_tile(bboxes: torch.Tensor, window, width: int, height: int,
                 margin: float) -> torch.Tensor:
    """Mask of the boxes (tile pixels) that touch no tile edge lying inside the image."""
    x0, y0, x1, y1 = window
    keep = torch.ones(len(bboxes), dtype=torch.bool)
    if x0 > 0:
        keep &= bboxes[:, 0] > margin
    if y0 > 0:
        keep &= bboxes[:, 1] > margin
    if x1 < width:
        keep &= bboxes[:, 2] < x1 - x0 - margin
    if y1 < height:
        keep &= bboxes[:, 3] < y1 - y0 - margin
    return keep


def merge_detections(parts: List, iou_threshold: float = 0.5, max_per_img: int = 300):
    """Class-wise NMS over detections that are already in one image's pixels.

    Args:
        parts: ``InstanceData`` with ``bboxes``, ``scores``, ``labels``.
        iou_threshold: boxes of a class overlapping a better one by more are dropped.
        max_per_img: the most detections kept, best first.
    """
    from mmcv.ops import batched_nms
    from mmengine.structures import InstanceData
    bboxes = torch.cat([p.bboxes for p in parts]).float()
    scores = torch.cat([p.scores for p in parts]).float()
    labels = torch.cat([p.labels for p in parts]).long()
    if not len(bboxes):
        return InstanceData(bboxes=bboxes.reshape(0, 4), scores=scores, labels=labels)
    _, keep = batched_nms(bboxes, scores, labels,
                          dict(type='nms', iou_threshold=iou_threshold))
    keep = keep[:max_per_img]
    return InstanceData(bboxes=bboxes[keep], scores=scores[keep], labels=labels[keep])


def predict_sliced(model, image: np.ndarray, tile_size: int, overlap: int,
                   batch_size: int = 4, whole_image: bool = True, iou_threshold: float = 0.5,
                   edge_margin: float = 2.0, max_per_img: int = 300):
    """Detections of one large image from overlapping tiles (+ the whole image).

    Args:
        model: from :func:`~detnas.apis.load_trained_detector`.
        image: BGR array, H x W x 3.
        tile_size: tile side in pixels; the detector's input size keeps objects at scale.
        overlap: least overlap of neighbouring tiles; objects smaller than it are seen
            whole in some tile.
        batch_size: tiles per forward pass.
        whole_image: also run the detector on the whole image (large objects).
        iou_threshold: class-wise NMS threshold of the merge.
        edge_margin: a tile box within this many pixels of an inner tile edge is dropped.
        max_per_img: the most detections kept, best first.

    Returns:
        ``InstanceData`` (``bboxes`` in the image's pixels, ``scores``, ``labels``).
    """
    height, width = image.shape[:2]
    windows = tile_windows(width, height, tile_size, overlap)
    crops = [np.ascontiguousarray(image[y0:y1, x0:x1]) for x0, y0, x1, y1 in windows]
    parts = []
    for window, det in zip(windows, predict_images(model, crops, batch_size)):
        det = det[_inside_tile(det.bboxes, window, width, height, edge_margin)]
        det.bboxes = det.bboxes + det.bboxes.new_tensor(window[:2] * 2)
        parts.append(det)
    if whole_image and len(windows) > 1:
        parts += predict_images(model, [image], 1)
    return merge_detections(parts, iou_threshold, max_per_img)
