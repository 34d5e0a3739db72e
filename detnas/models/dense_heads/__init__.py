"""dense_heads registered into mmdet.registry.MODELS / TASK_UTILS on import."""
from .seq_heads import SeqATSSHead, SeqFCOSHead, SeqRetinaHead  # noqa: F401
from .gfocal_v2_head import GFocalV2Head  # noqa: F401
from .yolov7_head import YOLOv7Head  # noqa: F401,E402
