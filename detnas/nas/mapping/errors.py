"""The error raised for inputs the mapper cannot work with; the message names the layer."""
from detnas.utils.errors import DetnasInputError


class MappingError(DetnasInputError):
    """A seed or target that cannot be mapped (wrong family, zero channels, bad groups)."""
