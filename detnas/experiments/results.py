"""A benchmark's result files: the header that says how they came about, and the JSON +
markdown pair every bench script writes."""
import os
import platform
import sys
import time
from typing import Callable, Optional, Sequence


def run_header(script: str, argv: Optional[Sequence[str]] = None) -> dict:
    """``command``, ``date`` and ``machine`` of a bench run.

    Args:
        script: the script as the command names it, e.g. ``'bench/search_ranking.py'``.
        argv: its arguments (default: ``sys.argv[1:]``).
    """
    cli = sys.argv[1:] if argv is None else list(argv)
    return dict(command=' '.join(['python', script, *cli]), date=time.strftime('%Y-%m-%d'),
                machine=f'{platform.machine()}, {os.cpu_count()} CPUs')


def write_results(out_dir: str, name: str, result: dict,
                  markdown: Callable[[dict], str]) -> str:
    """Writes ``out_dir/name.json`` and ``out_dir/name.md`` (each atomically).

    Args:
        out_dir: the results folder (created if needed).
        name: the files' stem.
        result: the JSON-serialisable result.
        markdown: renders ``result`` as the markdown table.

    Returns:
        the markdown.
    """
    from detnas.utils.io import atomic_write_bytes, atomic_write_json
    atomic_write_json(os.path.join(out_dir, name + '.json'), result)
    table = markdown(result)
    atomic_write_bytes(os.path.join(out_dir, name + '.md'), table.encode())
    return table
