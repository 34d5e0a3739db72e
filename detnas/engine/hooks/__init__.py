"""Runner hooks."""
from .seed_check_hook import SeedCheckHook  # noqa: F401
