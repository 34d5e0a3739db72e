"""The tools as a package, so that they work from an installed wheel: ``detnas TOOL ...``
(console entry point), ``python -m detnas.tools TOOL ...`` or ``python -m
detnas.tools.TOOL ...``; the checkout's ``tools/*.py`` (mmdet's layout) call the same code.

Each tool module has ``main(argv=None)``; a user error prints one line and exits 2
(:func:`detnas.utils.cli.run_tool`).
"""
import importlib
import sys
from typing import Optional, Sequence

TOOLS = dict(train='train a detector (mmengine Runner)',
             test='evaluate a checkpoint on the test split',
             search='adapt the backbone: supernet + NSGA-II, export the chosen sub-net',
             infer='detect objects in images (sliced for large images), draw and save them',
             eval_coco='COCO-evaluate a detections json',
             convert='convert VOC xml / YOLO txt / CSV labels to a COCO json',
             export='export a detector to ONNX and check it in onnxruntime',
             tile='cut a COCO data set of large images into overlapping tiles',
             browse='draw the boxes of a COCO data set, print its box-size statistics',
             demo='the main job on the embedded demo data')


def run(tool: str, argv: Optional[Sequence[str]] = None) -> None:
    """Runs ``tool``'s ``main(argv)`` as a command (errors -> one line, exit 2).

    Args:
        tool: a name in :data:`TOOLS`.
        argv: its arguments (default: ``sys.argv[1:]``).
    """
    from detnas.utils.cli import run_tool
    module = importlib.import_module(f'detnas.tools.{tool}')
    run_tool(lambda: module.main(None if argv is None else list(argv)))


def cli(argv: Optional[Sequence[str]] = None) -> None:
    """``detnas TOOL [ARGS ...]``: runs one of :data:`TOOLS` (``eval-coco`` = ``eval_coco``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    names = '\n'.join(f'  {name.replace("_", "-"):10s} {what}' for name, what in TOOLS.items())
    if not argv or argv[0] in ('-h', '--help'):
        print(f'usage: detnas TOOL [ARGS ...]\n\ntools:\n{names}\n\n'
              '`detnas TOOL -h` describes one tool.')
        sys.exit(0 if argv else 2)
    tool = argv[0].replace('-', '_')
    if tool not in TOOLS:
        print(f'error: unknown tool {argv[0]!r}; choose one of:\n{names}', file=sys.stderr)
        sys.exit(2)
    sys.argv = [f'detnas {argv[0]}'] + argv[1:]
    run(tool, argv[1:])
