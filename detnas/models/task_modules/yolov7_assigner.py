"""YOLOv7 label assignment: YOLOv5 candidate cells, then SimOTA-style dynamic top-k."""
from typing import List, Sequence, Tuple

import torch
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor

_NEIGHBOURS = ((0, 0), (1, 0), (0, 1), (-1, 0), (0, -1))  # (dx, dy): self, left, up, right, down


def decode_yolov7_boxes(raw: Tensor, gx: Tensor, gy: Tensor, anchors_wh: Tensor,
                        stride: float) -> Tensor:
    """Decodes raw YOLOv7 box logits to pixel xyxy boxes.

    ``xy = (2 * sigmoid(t_xy) - 0.5 + cell) * stride``, ``wh = (2 * sigmoid(t_wh))^2 * anchor``.

    Args:
        raw: (K, >=4) logits ``t_x, t_y, t_w, t_h``.
        gx, gy: (K,) cell column / row.
        anchors_wh: (K, 2) anchor sizes in pixels.
        stride: level stride in pixels.
    """
    s = raw[:, :4].sigmoid()
    cx = (s[:, 0] * 2 - 0.5 + gx) * stride
    cy = (s[:, 1] * 2 - 0.5 + gy) * stride
    wh = (s[:, 2:4] * 2) ** 2 * anchors_wh
    return torch.stack([cx - wh[:, 0] / 2, cy - wh[:, 1] / 2,
                        cx + wh[:, 0] / 2, cy + wh[:, 1] / 2], dim=1)


@TASK_UTILS.register_module()
class YOLOv7Assigner:
    """Assigns ground truths to (anchor, cell) predictions of one image, YOLOv7 style.

    1. Candidates (YOLOv5 rule, :meth:`find_candidates`): on every level, an anchor is a
       candidate for a ground truth when the width and height ratios lie within
       ``[1 / anchor_ratio_thr, anchor_ratio_thr]``; the cells are the one holding the
       box centre plus the neighbours whose shared edge is within ``neighbour_offset``
       cells of the centre (0.5: the 2 nearest neighbours, "3 positives"; 1.0: all 4,
       "5 positives", used for the auxiliary head).
    2. Dynamic top-k (:meth:`assign`): every candidate of the image (from any ground truth
       and level) is decoded; ``cost = cls_cost + iou_weight * -log(IoU)`` where
       ``cls_cost`` is the BCE between ``sqrt(sigmoid(cls) * sigmoid(obj))`` and the one-hot
       label; each ground truth takes its ``k = max(1, int(sum of its top-candidate_topk
       IoUs))`` cheapest candidates; a candidate taken by several ground truths keeps the
       cheapest one.

    Args:
        num_classes: number of classes.
        anchor_ratio_thr: width/height ratio limit between box and anchor.
        neighbour_offset: 0.5 (lead head) or 1.0 (auxiliary head).
        candidate_topk: how many of the best IoUs set the dynamic k (YOLOv7: 10 for the
            P5 loss, 20 for the P6 loss with auxiliary head).
        iou_weight: weight of the IoU cost.
    """

    def __init__(self, num_classes: int, anchor_ratio_thr: float = 4.0,
                 neighbour_offset: float = 0.5, candidate_topk: int = 10,
                 iou_weight: float = 3.0):
        if not 0 < neighbour_offset <= 1:
            raise ValueError(f'YOLOv7Assigner: neighbour_offset must be in (0, 1], got '
                             f'{neighbour_offset}')
        if anchor_ratio_thr <= 1:
            raise ValueError(f'YOLOv7Assigner: anchor_ratio_thr must be > 1, got '
                             f'{anchor_ratio_thr}')
        self.num_classes = num_classes
        self.anchor_ratio_thr = anchor_ratio_thr
        self.neighbour_offset = neighbour_offset
        self.candidate_topk = candidate_topk
        self.iou_weight = iou_weight

    def find_candidates(self, gt_bboxes: Tensor, featmap_sizes: Sequence[Tuple[int, int]],
                        strides: Sequence[float], base_anchors: Sequence[Tensor]
                        ) -> List[Tensor]:
        """Candidate (gt, anchor, cell) triples on every level.

        Args:
            gt_bboxes: (G, 4) xyxy boxes in input pixels.
            featmap_sizes: (H, W) of every level.
            strides: stride of every level.
            base_anchors: (A, 2) anchor (w, h) in pixels for every level.

        Returns:
            per level a (K, 4) long tensor of ``(gt_index, anchor_index, gy, gx)``.
        """
        out = []
        g = self.neighbour_offset
        for (h, w), stride, anchors in zip(featmap_sizes, strides, base_anchors):
            dev = gt_bboxes.device
            if gt_bboxes.numel() == 0:
                out.append(torch.zeros((0, 4), dtype=torch.long, device=dev))
                continue
            cxy = (gt_bboxes[:, :2] + gt_bboxes[:, 2:]) / 2 / stride       # (G, 2) grid units
            wh = (gt_bboxes[:, 2:] - gt_bboxes[:, :2]) / stride
            ratio = wh[:, None, :] / (anchors[None, :, :].to(wh) / stride)   # (G, A, 2)
            ok = torch.max(ratio, 1 / ratio).max(dim=2).values < self.anchor_ratio_thr
            gt_idx, a_idx = ok.nonzero(as_tuple=True)
            gxy = cxy[gt_idx]
            gxy_inv = torch.tensor([w, h], dtype=gxy.dtype, device=dev) - gxy
            near_lo = (gxy % 1 < g) & (gxy > 1)        # left (x) / up (y) neighbour
            near_hi = (gxy_inv % 1 < g) & (gxy_inv > 1)  # right / down neighbour
            masks = [torch.ones_like(near_lo[:, 0]), near_lo[:, 0], near_lo[:, 1],
                     near_hi[:, 0], near_hi[:, 1]]
            rows = []
            for (dx, dy), mask in zip(_NEIGHBOURS, masks):
                cell = (gxy[mask] - torch.tensor([dx, dy], dtype=gxy.dtype, device=dev) * g
                        ).long()
                gx = cell[:, 0].clamp(0, w - 1)
                gy = cell[:, 1].clamp(0, h - 1)
                rows.append(torch.stack([gt_idx[mask], a_idx[mask], gy, gx], dim=1))
            out.append(torch.cat(rows, dim=0))
        return out

    @torch.no_grad()
    def assign(self, preds: Sequence[Tensor], strides: Sequence[float],
               base_anchors: Sequence[Tensor], gt_bboxes: Tensor, gt_labels: Tensor
               ) -> List[Tensor]:
        """Matches ground truths to predictions of one image.

        Args:
            preds: per level raw predictions (A, H, W, 5 + num_classes): box logits,
                objectness logit, class logits.
            strides: stride of every level.
            base_anchors: (A, 2) anchor sizes in pixels of every level.
            gt_bboxes: (G, 4) xyxy pixel boxes.
            gt_labels: (G, ) class indices.

        Returns:
            per level a (M, 4) long tensor of matched ``(gt_index, anchor_index, gy, gx)``.
        """
        sizes = [p.shape[1:3] for p in preds]
        cands = self.find_candidates(gt_bboxes, sizes, strides, base_anchors)
        empty = [c[:0] for c in cands]
        num_gt = gt_bboxes.shape[0]
        if num_gt == 0 or sum(c.shape[0] for c in cands) == 0:
            return empty
        boxes, scores, levels = [], [], []
        for lvl, (c, p, stride, anchors) in enumerate(zip(cands, preds, strides, base_anchors)):
            raw = p[c[:, 1], c[:, 2], c[:, 3]].float()
            boxes.append(decode_yolov7_boxes(raw, c[:, 3], c[:, 2],
                                             anchors.to(raw)[c[:, 1]], stride))
            scores.append((raw[:, 5:].sigmoid() * raw[:, 4:5].sigmoid()).sqrt())
            levels.append(torch.full((c.shape[0], ), lvl, dtype=torch.long,
                                     device=c.device))
        boxes, scores, levels = torch.cat(boxes), torch.cat(scores), torch.cat(levels)
        cand_all = torch.cat(cands)
        ious = bbox_overlaps(gt_bboxes.float(), boxes)                       # (G, K)
        onehot = torch.nn.functional.one_hot(gt_labels.long(), self.num_classes).float()
        eps = 1e-7
        y = scores.clamp(eps, 1 - eps)
        cls_cost = -(onehot @ torch.log(y).T + (1 - onehot) @ torch.log(1 - y).T)  # (G, K)
        cost = cls_cost + self.iou_weight * -torch.log(ious + 1e-8)
        match = self.match_by_cost(cost, self.dynamic_ks(ious))
        pos = match.any(0)
        matched_gt = match[:, pos].float().argmax(0)
        rows = torch.cat([matched_gt[:, None], cand_all[pos, 1:]], dim=1)
        pos_levels = levels[pos]
        return [rows[pos_levels == lvl] for lvl in range(len(preds))]

    @staticmethod
    def match_by_cost(cost: Tensor, ks: Tensor) -> Tensor:
        """(G, K) bool matrix: gt i takes its ``ks[i]`` cheapest candidates; a candidate
        taken by several ground truths keeps only the cheapest of them."""
        match = torch.zeros_like(cost, dtype=torch.bool)
        for i in range(cost.shape[0]):
            match[i, torch.topk(cost[i], int(ks[i]), largest=False).indices] = True
        multi = match.sum(0) > 1
        if multi.any():
            best = cost[:, multi].argmin(0)
            match[:, multi] = False
            match[best, multi.nonzero(as_tuple=True)[0]] = True
        return match

    def dynamic_ks(self, ious: Tensor) -> Tensor:
        """``k_i = max(1, int(sum of the top candidate_topk IoUs of gt i))``."""
        k = min(self.candidate_topk, ious.shape[1])
        return ious.topk(k, dim=1).values.sum(1).int().clamp(min=1)
