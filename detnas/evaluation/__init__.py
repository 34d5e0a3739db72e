"""COCO evaluation of detection files (pycocotools or faster-coco-eval)."""
from .coco_eval import COCO_STAT_NAMES, CocoEvalResult, evaluate_detections

__all__ = ['COCO_STAT_NAMES', 'CocoEvalResult', 'evaluate_detections']
