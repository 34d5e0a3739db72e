"""necks registered into mmdet.registry.MODELS / TASK_UTILS on import."""
