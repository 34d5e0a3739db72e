"""Shared entry-point behaviour of the tools: their common arguments, and user errors that
print one message and exit 2."""
import argparse
import os
import sys
from typing import Callable, Optional, Sequence

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


def add_config_args(parser: argparse.ArgumentParser, what: str,
                    cfg_options_example: str = 'train_cfg.max_epochs=3',
                    launchers: Sequence[str] = ('none', 'pytorch', 'slurm', 'mpi')) -> None:
    """The arguments every config-driven tool takes: ``--cfg-options``,
    ``--allow-new-keys``, ``--launcher`` and torchrun's ``--local-rank``.

    Args:
        parser: the tool's parser (its positional arguments already added).
        what: what the config is for, in the help text (``'train'``).
        cfg_options_example: an override shown in the help.
        launchers: the ``--launcher`` choices.
    """
    parser.add_argument('--work-dir', help='output folder (default: work_dirs/<config>)')
    parser.add_argument('--cfg-options', nargs='+', action=_dict_action(),
                        help=f'override {what} config keys, e.g. {cfg_options_example}')
    parser.add_argument('--allow-new-keys', action='store_true',
                        help='let --cfg-options add keys the config does not have')
    parser.add_argument('--launcher', choices=list(launchers), default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses ``argv`` and exports ``--local-rank`` as ``LOCAL_RANK`` (torch.distributed's
    launchers read it)."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _dict_action():
    from mmengine.config import DictAction
    return DictAction


def close_process_group() -> None:
    """Waits for every rank, then destroys the default process group: left to interpreter
    exit, gloo's threads were sometimes torn down while in use (``terminate called without
    an active exception``, SIGABRT in one rank of a finished torchrun job)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
