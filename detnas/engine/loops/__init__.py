"""Runner train loops."""
from .sandwich_loop import SandwichTrainLoop, sandwich_archs  # noqa: F401
