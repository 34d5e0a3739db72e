"""Initialise a module without mmengine's per-tensor log lines."""
import logging

from torch import nn


def init_weights_quietly(module: nn.Module) -> nn.Module:
    """Calls ``module.init_weights()`` with the current MMLogger at WARNING (mmengine logs
    every initialised tensor at INFO); returns the module.

    Args:
        module: an mmengine ``BaseModule`` (anything with ``init_weights``).
    """
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        module.init_weights()
    finally:
        logger.setLevel(level)
    return module
