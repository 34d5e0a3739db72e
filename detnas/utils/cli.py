"""Shared entry-point behaviour of the tools: user errors print one message, exit 2."""
import sys
from typing import Callable

from .errors import DetnasInputError


def run_tool(main: Callable[[], None]) -> None:
    """Runs ``main``; a :class:`DetnasInputError` (or an mmengine build error that names an
    unknown config key) prints ``error: <message>`` to stderr and exits with status 2. A
    process group the tool created (torchrun) is closed after ``main`` returns."""
    from .config import explain_build_error
    try:
        main()
        close_process_group()
    except DetnasInputError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    except TypeError as e:
        explained = explain_build_error(e)
        if explained is None:
            raise
        print(f'error: {explained}', file=sys.stderr)
        sys.exit(2)


def close_process_group() -> None:
    """Waits for every rank, then destroys the default process group: left to interpreter
    exit, gloo's threads were sometimes torn down while in use (``terminate called without
    an active exception``, SIGABRT in one rank of a finished torchrun job)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
