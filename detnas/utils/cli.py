"""Shared entry-point behaviour of the tools: user errors print one message, exit 2."""
import sys
from typing import Callable

from .errors import DetnasInputError


def run_tool(main: Callable[[], None]) -> None:
    """Runs ``main``; a :class:`DetnasInputError` (or an mmengine build error that names an
    unknown config key) prints ``error: <message>`` to stderr and exits with status 2."""
    from .config import explain_build_error
    try:
        main()
    except DetnasInputError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    except TypeError as e:
        explained = explain_build_error(e)
        if explained is None:
            raise
        print(f'error: {explained}', file=sys.stderr)
        sys.exit(2)
