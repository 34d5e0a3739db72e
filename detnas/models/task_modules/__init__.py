"""task_modules registered into mmdet.registry.MODELS / TASK_UTILS on import."""
from .yolov7_assigner import YOLOv7Assigner  # noqa: F401,E402
