"""YOLOv7 detection head: 3 anchors per level, implicit prediction convs, OTA loss."""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.ops import batched_nms
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.models.losses.iou_loss import ciou_loss
from mmdet.models.utils import filter_scores_and_topk, unpack_gt_instances
from mmdet.registry import MODELS, TASK_UTILS
from ..layers.implicit import ImplicitConv2d
from ..task_modules.yolov7_assigner import decode_yolov7_boxes

P5_ANCHORS = [[(12, 16), (19, 36), (40, 28)], [(36, 75), (76, 55), (72, 146)],
              [(142, 110), (192, 243), (459, 401)]]
TINY_ANCHORS = [[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],
                [(116, 90), (156, 198), (373, 326)]]
P6_ANCHORS = [[(19, 27), (44, 40), (38, 94)], [(96, 68), (86, 152), (180, 137)],
              [(140, 301), (303, 264), (238, 542)], [(436, 615), (739, 380), (925, 792)]]


@MODELS.register_module()
class YOLOv7Head(BaseDenseHead):
    """YOLOv7 head (``IDetect`` / ``IAuxDetect``) with YOLOv7's OTA loss.

    Per level one :class:`ImplicitConv2d` (``m * conv1x1(x + a)``) predicts, for each of
    the level's anchors, ``(t_x, t_y, t_w, t_h, objectness, classes)``. Training assigns
    with :class:`YOLOv7Assigner` (YOLOv5 candidate cells, then dynamic top-k); with
    auxiliary inputs (the P6 models) the auxiliary head is trained on the *lead head's*
    predictions with the coarser 5-cell candidates (lead-guided assignment), weighted by
    ``aux_loss_weight``. Losses: ``1 - CIoU`` on matched boxes, BCE objectness against the
    detached IoU on every cell (level weights ``obj_level_weights``), BCE classes on
    matched predictions; each is multiplied by the batch size as in the official code.

    Args:
        num_classes: number of classes.
        in_channels: input channels of every level (P3 first).
        aux_in_channels: channels of the auxiliary inputs (None: no auxiliary head).
        base_anchors: per level list of (w, h) anchors in input pixels.
        strides: per level stride.
        use_implicit: use the implicit add/multiply around the prediction conv.
        loss_bbox_weight: weight of the box loss (YOLOv7 ``box`` hyp, already scaled).
        loss_obj_weight: weight of the objectness loss (``obj`` hyp, already scaled).
        loss_cls_weight: weight of the class loss (``cls`` hyp, already scaled).
        obj_level_weights: objectness balance per level.
        aux_loss_weight: weight of every auxiliary loss term.
        assigner: config of the lead assigner.
        aux_assigner: config of the auxiliary assigner.
        train_cfg: unused (mmdet convention).
        test_cfg: ``score_thr``, ``nms_pre``, ``nms`` (``iou_threshold``), ``max_per_img``.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int],
                 aux_in_channels: Optional[Sequence[int]] = None,
                 base_anchors: Sequence[Sequence[Tuple[float, float]]] = P5_ANCHORS,
                 strides: Sequence[int] = (8, 16, 32),
                 use_implicit: bool = True,
                 loss_bbox_weight: float = 0.05,
                 loss_obj_weight: float = 0.7,
                 loss_cls_weight: float = 0.3,
                 obj_level_weights: Sequence[float] = (4.0, 1.0, 0.4),
                 aux_loss_weight: float = 0.25,
                 assigner: dict = dict(type='YOLOv7Assigner', neighbour_offset=0.5,
                                       candidate_topk=10),
                 aux_assigner: dict = dict(type='YOLOv7Assigner', neighbour_offset=1.0,
                                           candidate_topk=20),
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        nl = len(in_channels)
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f'YOLOv7Head: num_classes must be a positive int, got '
                             f'{num_classes!r}')
        for name, seq in (('base_anchors', base_anchors), ('strides', strides),
                          ('obj_level_weights', obj_level_weights)):
            if len(seq) != nl:
                raise ValueError(f'YOLOv7Head: {name} has {len(seq)} levels but in_channels '
                                 f'has {nl}; give one entry per level (P3 first)')
        if aux_in_channels is not None and len(aux_in_channels) != nl:
            raise ValueError(f'YOLOv7Head: aux_in_channels needs {nl} levels, got '
                             f'{list(aux_in_channels)}')
        num_anchors = {len(a) for a in base_anchors}
        if len(num_anchors) != 1:
            raise ValueError('YOLOv7Head: every level needs the same number of anchors, got '
                             f'{[len(a) for a in base_anchors]}')
        self.num_classes, self.num_levels = num_classes, nl
        self.num_base_priors = num_anchors.pop()
        self.num_outputs = 5 + num_classes
        self.strides = [float(s) for s in strides]
        for i, anchors in enumerate(base_anchors):
            self.register_buffer(f'anchors_{i}', torch.tensor(anchors, dtype=torch.float32),
                                 persistent=False)
        out = self.num_base_priors * self.num_outputs
        self.lead_convs = nn.ModuleList(
            ImplicitConv2d(c, out, 1, use_add=use_implicit, use_mul=use_implicit)
            for c in in_channels)
        self.aux_convs = None
        if aux_in_channels is not None:
            self.aux_convs = nn.ModuleList(
                ImplicitConv2d(c, out, 1, use_add=False, use_mul=False)
                for c in aux_in_channels)
        self.loss_bbox_weight = loss_bbox_weight
        self.loss_obj_weight = loss_obj_weight
        self.loss_cls_weight = loss_cls_weight
        self.obj_level_weights = list(obj_level_weights)
        self.aux_loss_weight = aux_loss_weight
        self.assigner = TASK_UTILS.build(dict(assigner, num_classes=num_classes))
        self.aux_assigner = TASK_UTILS.build(dict(aux_assigner, num_classes=num_classes))
        self.train_cfg, self.test_cfg = train_cfg, test_cfg

    @property
    def base_anchors(self) -> List[Tensor]:
        return [getattr(self, f'anchors_{i}') for i in range(self.num_levels)]

    def init_weights(self) -> None:
        super().init_weights()
        convs = list(self.lead_convs) + list(self.aux_convs or [])
        strides = self.strides + (self.strides if self.aux_convs is not None else [])
        for conv, stride in zip(convs, strides):
            bias = conv.conv.bias.data.view(self.num_base_priors, self.num_outputs)
            bias[:, 4] += math.log(8 / (640 / stride) ** 2)
            bias[:, 5:] += math.log(0.6 / (self.num_classes - 0.99 + 1e-6))

    def switch_to_deploy(self) -> None:
        """Drops the training-only auxiliary convs (the lead convs fold themselves)."""
        self.aux_convs = None

    def forward(self, x: Tuple[Tensor, ...]) -> tuple:
        """Returns ``(lead_preds,)`` or, with auxiliary inputs, ``(lead_preds, aux_preds)``;
        each a list of (N, A * (5 + C), H, W) maps."""
        nl = self.num_levels
        if len(x) not in (nl, 2 * nl):
            raise ValueError(f'YOLOv7Head expects {nl} (or {2 * nl} with auxiliary) feature '
                             f'maps, got {len(x)}')
        lead = [conv(f) for conv, f in zip(self.lead_convs, x[:nl])]
        if len(x) == 2 * nl:
            if self.aux_convs is None:
                raise ValueError('YOLOv7Head got auxiliary feature maps but was built '
                                 'without aux_in_channels')
            return lead, [conv(f) for conv, f in zip(self.aux_convs, x[nl:])]
        return (lead, )

    def _levels(self, preds: List[Tensor]) -> List[Tensor]:
        """(N, A*(5+C), H, W) -> (N, A, H, W, 5+C)."""
        out = []
        for p in preds:
            n, _, h, w = p.shape
            out.append(p.view(n, self.num_base_priors, self.num_outputs, h, w)
                       .permute(0, 1, 3, 4, 2).contiguous())
        return out

    def loss(self, x: Tuple[Tensor, ...], batch_data_samples) -> dict:
        outs = self(x)
        gts, metas, _ = unpack_gt_instances(batch_data_samples)
        return self.loss_by_feat(outs[0], gts, metas,
                                 aux_preds=outs[1] if len(outs) > 1 else None)

    def loss_by_feat(self, lead_preds: List[Tensor], batch_gt_instances,
                     batch_img_metas, aux_preds: Optional[List[Tensor]] = None,
                     batch_gt_instances_ignore=None) -> dict:
        lead = self._levels(lead_preds)
        aux = self._levels(aux_preds) if aux_preds is not None else None
        lead_matches, aux_matches = [], []
        for i, gt in enumerate(batch_gt_instances):
            per_image = [p[i].detach() for p in lead]
            lead_matches.append(self.assigner.assign(per_image, self.strides,
                                                     self.base_anchors, gt.bboxes, gt.labels))
            if aux is not None:  # lead-guided: the aux targets come from the lead preds
                aux_matches.append(self.aux_assigner.assign(
                    per_image, self.strides, self.base_anchors, gt.bboxes, gt.labels))
        losses = self._loss_terms(lead, lead_matches, batch_gt_instances, 1.0)
        if aux is not None:
            aux_losses = self._loss_terms(aux, aux_matches, batch_gt_instances,
                                          self.aux_loss_weight)
            losses = [a + b for a, b in zip(losses, aux_losses)]
        batch = lead[0].shape[0]
        box, obj, cls = losses
        return dict(loss_bbox=box * self.loss_bbox_weight * batch,
                    loss_obj=obj * self.loss_obj_weight * batch,
                    loss_cls=cls * self.loss_cls_weight * batch)

    def _loss_terms(self, levels, matches, batch_gt_instances, weight):
        zero = levels[0].sum() * 0
        box_loss, obj_loss, cls_loss = zero, zero, zero
        for lvl, pred in enumerate(levels):
            stride, anchors = self.strides[lvl], self.base_anchors[lvl]
            tobj = torch.zeros_like(pred[..., 4])
            ims, rows, tboxes, tlabels = [], [], [], []
            for i, m in enumerate(matches):
                rows.append(m[lvl])
                ims.append(torch.full((m[lvl].shape[0], ), i, dtype=torch.long,
                                      device=pred.device))
                tboxes.append(batch_gt_instances[i].bboxes[m[lvl][:, 0]])
                tlabels.append(batch_gt_instances[i].labels[m[lvl][:, 0]])
            rows = torch.cat(rows)
            if rows.shape[0]:
                b, a, gy, gx = torch.cat(ims), rows[:, 1], rows[:, 2], rows[:, 3]
                ps = pred[b, a, gy, gx]
                pbox = decode_yolov7_boxes(ps, gx, gy, anchors[a], stride)
                tbox = torch.cat(tboxes).to(pbox)
                ciou = 1.0 - ciou_loss(pbox, tbox, reduction='none')
                box_loss = box_loss + weight * (1.0 - ciou).mean()
                tobj[b, a, gy, gx] = ciou.detach().clamp(0).to(tobj.dtype)
                if self.num_classes > 1:
                    t = F.one_hot(torch.cat(tlabels).long(), self.num_classes).to(ps)
                    cls_loss = cls_loss + weight * F.binary_cross_entropy_with_logits(
                        ps[:, 5:], t)
            obj_loss = obj_loss + weight * self.obj_level_weights[lvl] * \
                F.binary_cross_entropy_with_logits(pred[..., 4], tobj)
        return [box_loss, obj_loss, cls_loss]

    def predict_by_feat(self, lead_preds: List[Tensor], aux_preds=None,
                        batch_img_metas: Optional[List[dict]] = None, cfg=None,
                        rescale: bool = False, with_nms: bool = True) -> List[InstanceData]:
        cfg = self.test_cfg if cfg is None else cfg
        defaults = dict(score_thr=0.001, nms_pre=30000,
                        nms=dict(type='nms', iou_threshold=0.65), max_per_img=300)
        cfg = dict(defaults, **(cfg or {}))
        levels = self._levels(lead_preds)
        results = []
        for i, meta in enumerate(batch_img_metas):
            boxes, scores = [], []
            for lvl, pred in enumerate(levels):
                a_, h, w = pred.shape[1:4]
                gy, gx = torch.meshgrid(torch.arange(h, device=pred.device),
                                        torch.arange(w, device=pred.device), indexing='ij')
                gx = gx.expand(a_, h, w).reshape(-1)
                gy = gy.expand(a_, h, w).reshape(-1)
                anchors = self.base_anchors[lvl][:, None, :].expand(a_, h * w, 2).reshape(-1, 2)
                raw = pred[i].reshape(-1, self.num_outputs)
                boxes.append(decode_yolov7_boxes(raw, gx, gy, anchors, self.strides[lvl]))
                scores.append(raw[:, 5:].sigmoid() * raw[:, 4:5].sigmoid())
            boxes, scores = torch.cat(boxes), torch.cat(scores)
            scores, labels, keep, _ = filter_scores_and_topk(
                scores, cfg['score_thr'], cfg.get('nms_pre', 30000))
            boxes = boxes[keep]
            if rescale and 'scale_factor' in meta:
                boxes = boxes / boxes.new_tensor(meta['scale_factor']).repeat(2)
            result = InstanceData()
            if with_nms and boxes.numel():
                dets, kept = batched_nms(boxes, scores, labels, cfg['nms'])
                kept = kept[:cfg.get('max_per_img', 300)]
                boxes, scores, labels = dets[:len(kept), :4], dets[:len(kept), 4], labels[kept]
            result.bboxes, result.scores, result.labels = boxes, scores, labels
            results.append(result)
        return results
