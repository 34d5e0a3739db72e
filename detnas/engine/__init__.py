"""Runner-side pieces: hooks and loops."""
from . import hooks  # noqa: F401
from . import loops  # noqa: F401
