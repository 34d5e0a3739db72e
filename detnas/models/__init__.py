"""All detnas models; importing this registers them into mmdet's registries."""
from . import backbones, dense_heads, layers, necks, task_modules  # noqa: F401
