"""Progress of jobs running in subprocesses: one status line every ``interval`` seconds with
what each job's log says last (training epoch and iteration, search generation) and its ETA.

The train tool logs ``Epoch(train) [E][I/N] ... eta: H:MM:SS`` (mmengine); the search logs
``search: generation G/T done: ... ETA S s``. A job without such a line yet is "starting".
"""
import os.path as osp
import re
import threading
import time
from typing import Dict, Optional

_EPOCH = re.compile(r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\].*?'
                    r'eta: ((?:\d+ days?, )?[\d:]+)')
_GENERATION = re.compile(r'search: generation (\d+)/(\d+) done.*ETA (\d+) s')


def _seconds(eta: str) -> int:
    """Seconds of an mmengine ETA (``'0:02:18'``, ``'1 day, 2:03:04'``)."""
    days = 0
    if 'day' in eta:
        d, eta = eta.split(',', 1)
        days = int(d.split()[0])
    parts = [int(p) for p in eta.strip().split(':')]
    while len(parts) < 3:
        parts.insert(0, 0)
    return days * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


def job_status(log_path: str, epochs: Optional[int] = None) -> str:
    """What a job's log says last: ``'epoch 3/6 it 20/40, ETA 2m10s'``, ``'generation 2/4,
    ETA 50s'`` or ``'starting'``.

    Args:
        log_path: the job's log file.
        epochs: the job's epochs (for ``epoch E/T``; mmengine's lines do not carry it).
    """
    if not osp.isfile(log_path):
        return 'starting'
    with open(log_path, errors='replace') as f:
        text = f.read()[-20000:]
    epoch = list(_EPOCH.finditer(text))
    generation = list(_GENERATION.finditer(text))
    if generation and (not epoch or generation[-1].start() > epoch[-1].start()):
        g = generation[-1]
        return f'generation {g.group(1)}/{g.group(2)}, ETA {_clock(int(g.group(3)))}'
    if epoch:
        e = epoch[-1]
        total = f'/{epochs}' if epochs else ''
        return (f'epoch {e.group(1)}{total} it {e.group(2)}/{e.group(3)}, ETA '
                f'{_clock(_seconds(e.group(4)))}')
    return 'starting'


def _clock(seconds: int) -> str:
    return f'{seconds // 60}m{seconds % 60:02d}s' if seconds >= 60 else f'{seconds}s'


class ProgressMonitor:
    """Prints ``[label] name: status | name: status | elapsed`` every ``interval`` seconds
    while a ``with`` block runs.

    Args:
        label: prefix of the lines.
        logs: job name -> (log file, epochs or None).
        interval: seconds between lines.
    """

    def __init__(self, label: str, logs: Dict[str, tuple], interval: float = 30.0):
        self.label, self.logs, self.interval = label, logs, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.time()

    def line(self) -> str:
        jobs = ' | '.join(f'{name}: {job_status(path, epochs)}'
                          for name, (path, epochs) in self.logs.items())
        return f'[{self.label}] {jobs} | elapsed {_clock(int(time.time() - self._start))}'

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            print(self.line(), flush=True)

    def __enter__(self) -> 'ProgressMonitor':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
