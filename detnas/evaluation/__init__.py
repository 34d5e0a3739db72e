"""COCO evaluation of detection files (pycocotools or faster-coco-eval), and the scorer of
search candidates. Importing it lets mmdet's COCO evaluation accept files without the
optional ``info`` / ``licenses`` keys (:mod:`.compat`)."""
from .coco_eval import COCO_STAT_NAMES, CocoEvalResult, CocoScorer, evaluate_detections
from .compat import accept_optional_coco_keys

accept_optional_coco_keys()

__all__ = ['COCO_STAT_NAMES', 'CocoEvalResult', 'CocoScorer', 'evaluate_detections',
           'accept_optional_coco_keys']
