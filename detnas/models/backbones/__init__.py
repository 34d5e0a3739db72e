"""backbones registered into mmdet.registry.MODELS / TASK_UTILS on import."""
from .s2d_chain import S2DChain  # noqa: F401
from .yolov7_backbone import YOLOv7Backbone  # noqa: F401,E402
from .adapted_mobilenet_v2 import AdaptedMobileNetV2  # noqa: F401
from .adapted_resnet import AdaptedResNet  # noqa: F401
