"""Runner hooks."""
from .seed_check_hook import SeedCheckHook  # noqa: F401
from .channels_last_hook import ChannelsLastHook  # noqa: F401
