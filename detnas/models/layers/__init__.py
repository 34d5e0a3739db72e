"""layers registered into mmdet.registry.MODELS / TASK_UTILS on import."""
from . import yolov7_search_ops  # noqa: F401,E402  YOLOv7 blocks + their SEARCH_OPS
