"""Score a sub-net of a supernet detector on the held-out split: BN recalibration, then COCO AP.

Everything runs locally on the calling process (no collectives), so candidates can be
spread over ranks with :func:`~detnas.nas.evolution.evaluate_on_ranks`. The calibration and
held-out batches are loaded once and kept in memory (both in a fixed order, through the
test pipeline), so every candidate sees exactly the same data and a score is a function
of the supernet weights and the arch alone.
"""
import contextlib
import copy
import io
import logging
from typing import Dict, Sequence

import torch
from mmengine.logging import MMLogger
from torch import nn

from mmdet.registry import METRICS
from ..space import Arch
from ..supernet.bn_calibration import detector_forward, recalibrate_bn


@contextlib.contextmanager
def quiet():
    """Silences the current MMLogger and stdout (pycocotools prints) while a candidate is
    scored; an empty result ("testing results ... empty") is reported as AP 0 instead."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


class HeldoutEvaluator:
    """``arch -> {'bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_s'}`` of a supernet detector.

    Args:
        model: the supernet detector (not DDP-wrapped); its backbone has ``set_arch``.
        calibration_batches: training batches for BN recalibration.
        heldout_batches: the held-out batches.
        metric_cfg: a ``CocoMetric`` config whose ``ann_file`` is the held-out json.
        dataset_meta: the dataset's metainfo (class names) for the metric.
    """

    def __init__(self, model: nn.Module, calibration_batches: Sequence[dict],
                 heldout_batches: Sequence[dict], metric_cfg: dict, dataset_meta: dict):
        self.model = model
        self.calibration_batches = list(calibration_batches)
        self.heldout_batches = list(heldout_batches)
        with quiet():
            self.metric = METRICS.build(copy.deepcopy(metric_cfg))
        self.metric.dataset_meta = dataset_meta

    def calibrate(self, arch: Arch) -> None:
        """Selects ``arch`` and re-estimates its BN statistics."""
        self.model.backbone.set_arch(arch)
        recalibrate_bn(self.model, self.calibration_batches,
                       forward=detector_forward(self.model))

    @torch.no_grad()
    def __call__(self, arch: Arch) -> Dict[str, float]:
        training = self.model.training
        self.calibrate(arch)
        self.model.eval()
        self.metric.results.clear()
        try:
            for batch in self.heldout_batches:
                outputs = self.model.test_step(batch)
                self.metric.process(batch, [o.to_dict() for o in outputs])
            with quiet():
                scores = self.metric.compute_metrics(self.metric.results) \
                    if self.metric.results else {}
        finally:
            self.metric.results.clear()
            self.model.train(training)
        # CocoMetric returns {} when no box was predicted: that is an AP of 0
        return {k: float(scores.get(k, 0.0)) for k in ('bbox_mAP', 'bbox_mAP_50',
                                                        'bbox_mAP_s')}
