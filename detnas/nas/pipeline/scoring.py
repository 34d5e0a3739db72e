"""Score a sub-net of a supernet detector on the held-out split: BN recalibration, then COCO AP.

Everything runs locally on the calling process (no collectives), so candidates can be
spread over ranks with :func:`~detnas.nas.evolution.evaluate_on_ranks`. The calibration and
held-out batches are loaded once and kept in memory (both in a fixed order, through the
test pipeline), so every candidate sees exactly the same data and a score is a function
of the supernet weights and the arch alone.
"""
from typing import Dict, List, Sequence

import torch
from torch import nn

from detnas.evaluation.coco_eval import CocoScorer
from ..space import Arch
from ..supernet.bn_calibration import detector_forward, recalibrate_bn


class HeldoutEvaluator:
    """``arch -> {'bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_s'}`` of a supernet detector on the
    held-out images: pycocotools' unrounded numbers (:class:`~detnas.evaluation.CocoScorer`,
    whose half-sample spread the search uses to compare the chosen arch with the seed).

    Args:
        model: the supernet detector (not DDP-wrapped); its backbone has ``set_arch``.
        calibration_batches: training batches for BN recalibration.
        heldout_batches: the held-out batches.
        ann_file: the held-out COCO json.
        dataset_meta: the dataset's metainfo (``classes``: label order).
    """

    def __init__(self, model: nn.Module, calibration_batches: Sequence[dict],
                 heldout_batches: Sequence[dict], ann_file: str, dataset_meta: dict):
        self.model = model
        self.calibration_batches = list(calibration_batches)
        self.heldout_batches = list(heldout_batches)
        self.scorer = CocoScorer(ann_file, dataset_meta['classes'])

    def calibrate(self, arch: Arch) -> None:
        """Selects ``arch`` and re-estimates its BN statistics."""
        self.model.backbone.set_arch(arch)
        recalibrate_bn(self.model, self.calibration_batches,
                       forward=detector_forward(self.model))

    @torch.no_grad()
    def detections(self, arch: Arch) -> List[dict]:
        """The held-out detections of ``arch`` (after BN recalibration), COCO result dicts."""
        training = self.model.training
        self.calibrate(arch)
        self.model.eval()
        dets = []
        try:
            for batch in self.heldout_batches:
                for out in self.model.test_step(batch):
                    pred = out.pred_instances
                    dets += self.scorer.detections(out.img_id, pred.bboxes.cpu(),
                                                   pred.scores.cpu(), pred.labels.cpu())
        finally:
            self.model.train(training)
        return dets

    def __call__(self, arch: Arch) -> Dict[str, float]:
        return self.scorer(self.detections(arch), with_se=False)
