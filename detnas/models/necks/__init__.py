"""necks registered into mmdet.registry.MODELS / TASK_UTILS on import."""
from .safpn import SAFPN  # noqa: F401
from .gfpn import GFPN  # noqa: F401
from .yolov7_pafpn import YOLOv7PAFPN  # noqa: F401,E402
from .ddf_fusion import DDFFusion  # noqa: F401
