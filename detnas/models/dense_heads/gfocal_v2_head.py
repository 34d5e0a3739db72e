"""GFocal V2 head: GFL head plus a distribution-guided quality predictor (DGQP).

Generalized Focal Loss V2 (Li et al., CVPR 2021) estimates localisation quality from the
statistics of the learned box-side distributions: for each of the four sides it takes the
top-k probabilities (and their mean), and a tiny 1x1-conv MLP maps these ``4 * (k + 1)``
numbers to one quality in (0, 1). The classification output is the product
``sigmoid(cls_logit) * quality``, supervised by Quality Focal Loss on probabilities. The
rest (DFL, GIoU, ATSS assignment, distance decoding) is mmdet's :class:`GFLHead`.

Unlike :class:`GFLHead`, :meth:`GFocalV2Head.forward` returns *probabilities* as class
scores, hence ``loss_cls`` must be ``QualityFocalLoss`` with ``activated=True``.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import Scale
from mmdet.models.dense_heads import GFLHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor, nn

SCORE_EPS = 1e-6


class DGQP(nn.Module):
    """Distribution-guided quality predictor.

    Args:
        reg_max: the box-side distributions have ``reg_max + 1`` bins.
        topk: how many largest bin probabilities per side feed the predictor.
        channels: hidden width of the 1x1-conv MLP.
        add_mean: also feed the mean of the top-k probabilities per side.
    """

    def __init__(self, reg_max: int = 16, topk: int = 4, channels: int = 64,
                 add_mean: bool = True):
        super().__init__()
        if not 1 <= topk <= reg_max + 1:
            raise ValueError(f'reg_topk must be in 1..reg_max+1={reg_max + 1} (bins per '
                             f'side), got {topk}')
        self.reg_max = reg_max
        self.topk = topk
        self.add_mean = add_mean
        in_channels = 4 * (topk + int(add_mean))
        self.mlp = nn.Sequential(
            nn.Conv2d(in_channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, 1, 1),
            nn.Sigmoid())

    def statistics(self, bbox_pred: Tensor) -> Tensor:
        """``(N, 4 * (reg_max + 1), H, W)`` logits -> ``(N, 4 * (k + mean), H, W)``."""
        n, _, h, w = bbox_pred.shape
        prob = F.softmax(bbox_pred.reshape(n, 4, self.reg_max + 1, h, w), dim=2)
        stat, _ = prob.topk(self.topk, dim=2)
        if self.add_mean:
            stat = torch.cat([stat, stat.mean(dim=2, keepdim=True)], dim=2)
        return stat.reshape(n, -1, h, w)

    def forward(self, bbox_pred: Tensor) -> Tensor:
        """Returns the quality map ``(N, 1, H, W)`` in (0, 1)."""
        return self.mlp(self.statistics(bbox_pred))


@MODELS.register_module()
class GFocalV2Head(GFLHead):
    """GFL head whose class scores are ``sigmoid(cls) * DGQP(box distribution)``.

    Args:
        num_classes: number of object classes.
        in_channels: channels of each input level.
        reg_topk: top-k bins per side fed to the DGQP (GFL V2: 4).
        reg_channels: hidden width of the DGQP (GFL V2: 64).
        add_mean: feed the mean of the top-k too (GFL V2: True).
        loss_cls: must be ``QualityFocalLoss`` with ``activated=True`` (scores are
            probabilities).
        **kwargs: everything else of :class:`mmdet.models.GFLHead` (stacked_convs,
            feat_channels, norm_cfg, anchor_generator, loss_dfl, loss_bbox, reg_max, ...).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 reg_topk: int = 4,
                 reg_channels: int = 64,
                 add_mean: bool = True,
                 loss_cls: dict = dict(type='QualityFocalLoss', use_sigmoid=True,
                                       activated=True, beta=2.0, loss_weight=1.0),
                 **kwargs):
        if loss_cls.get('type') == 'QualityFocalLoss' and not loss_cls.get('activated'):
            raise ValueError('GFocalV2Head outputs probabilities (sigmoid(cls) * quality): '
                             'set loss_cls=dict(type="QualityFocalLoss", activated=True, ...)')
        self.reg_topk = reg_topk
        self.reg_channels = reg_channels
        self.add_mean = add_mean
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         loss_cls=loss_cls, **kwargs)

    def _init_layers(self) -> None:
        super()._init_layers()
        self.dgqp = DGQP(self.reg_max, self.reg_topk, self.reg_channels, self.add_mean)

    def forward_single(self, x: Tensor, scale: Scale) -> Sequence[Tensor]:
        """Returns ``(cls_prob, bbox_pred)`` for one level: joint class-quality
        probabilities ``(N, C, H, W)`` and box-side distribution logits."""
        cls_feat, reg_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        bbox_pred = scale(self.gfl_reg(reg_feat)).float()
        quality = self.dgqp(bbox_pred)
        cls_prob = self.gfl_cls(cls_feat).sigmoid() * quality
        return cls_prob, bbox_pred

    def loss_by_feat_single(self, anchors: Tensor, cls_score: Tensor, bbox_pred: Tensor,
                            labels: Tensor, label_weights: Tensor, bbox_targets: Tensor,
                            stride: Tuple[int], avg_factor: int) -> tuple:
        """One level's QFL / GIoU / DFL losses; ``cls_score`` holds probabilities.

        Same targets and weighting as :meth:`GFLHead.loss_by_feat_single` (positives are
        weighted by their detached top class score; QFL targets the IoU of the decoded
        box), the only change being that the scores are already probabilities.
        """
        if stride[0] != stride[1]:
            raise ValueError(f'GFocalV2Head needs square strides, got {stride}')
        anchors = anchors.reshape(-1, 4)
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4 * (self.reg_max + 1))
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        label_weights = label_weights.reshape(-1)

        pos = ((labels >= 0) & (labels < self.num_classes)).nonzero().squeeze(1)
        iou_target = label_weights.new_zeros(labels.shape)
        if len(pos) > 0:
            centers = self.anchor_center(anchors[pos]) / stride[0]
            pos_pred = bbox_pred[pos]
            weights = cls_score.detach().max(dim=1)[0][pos]
            boxes = self.bbox_coder.decode(centers, self.integral(pos_pred))
            targets = bbox_targets[pos] / stride[0]
            iou_target[pos] = bbox_overlaps(boxes.detach(), targets, is_aligned=True)
            side_targets = self.bbox_coder.encode(centers, targets, self.reg_max).reshape(-1)
            loss_bbox = self.loss_bbox(boxes, targets, weight=weights, avg_factor=1.0)
            loss_dfl = self.loss_dfl(pos_pred.reshape(-1, self.reg_max + 1), side_targets,
                                     weight=weights[:, None].expand(-1, 4).reshape(-1),
                                     avg_factor=4.0)
        else:
            loss_bbox = bbox_pred.sum() * 0
            loss_dfl = bbox_pred.sum() * 0
            weights = bbox_pred.new_tensor(0)
        loss_cls = self.loss_cls(cls_score, (labels, iou_target), weight=label_weights,
                                 avg_factor=avg_factor)
        return loss_cls, loss_bbox, loss_dfl, weights.sum()

    def predict_by_feat(self, cls_scores: List[Tensor], bbox_preds: List[Tensor],
                        score_factors: Optional[List[Tensor]] = None, **kwargs):
        """Post-processing of :class:`GFLHead`, which applies a sigmoid to the scores: the
        probabilities are passed to it as logits (exact up to ``SCORE_EPS`` clamping)."""
        logits = [torch.logit(s.clamp(SCORE_EPS, 1 - SCORE_EPS)) for s in cls_scores]
        return super().predict_by_feat(logits, bbox_preds, score_factors, **kwargs)
