"""Runner-side pieces: hooks and loops."""
from . import hooks  # noqa: F401
