"""dense_heads registered into mmdet.registry.MODELS / TASK_UTILS on import."""
