"""``python -m detnas.tools TOOL ...`` (see :func:`detnas.tools.cli`)."""
from . import cli

cli()
