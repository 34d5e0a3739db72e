"""One run per work dir: a lock file (pid, host, start) that a second run refuses to share.

Two runs on one ``--work-dir`` would write one log and overwrite each other's checkpoints,
so that a later ``--resume`` mixes them. A lock left by a run that was killed (its pid is no
longer alive on this host) is stale and taken over.
"""
import json
import os
import os.path as osp
import socket
import time

from .errors import DetnasInputError

LOCK_NAME = '.detnas.lock'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class WorkDirLock:
    """``with WorkDirLock(work_dir): ...`` holds ``work_dir/.detnas.lock`` while a run lasts.

    Args:
        work_dir: the run's work dir (created).
        what: the run, for messages (``'training'``).
    """

    def __init__(self, work_dir: str, what: str = 'a run'):
        self.path = osp.join(work_dir, LOCK_NAME)
        self.what = what
        self.held = False

    def holder(self):
        """The lock's content, or None when there is no lock."""
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def acquire(self) -> None:
        """Takes the lock, or takes over a stale one.

        Raises:
            DetnasInputError: a live run on this host, or a run on another host, holds it.
        """
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        me = dict(pid=os.getpid(), host=socket.gethostname(), started=time.strftime('%c'),
                  what=self.what)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                other = self.holder()
                if other and (other.get('host') != me['host'] or _alive(int(other['pid']))):
                    raise DetnasInputError(
                        f'{osp.dirname(self.path)!r} is in use by {other.get("what")} '
                        f'(pid {other.get("pid")} on {other.get("host")}, started '
                        f'{other.get("started")}); wait for it, stop it, or choose another '
                        f'--work-dir (a lock left by a crash: delete {self.path})') from None
                os.remove(self.path)  # stale: its process is gone
                continue
            with os.fdopen(fd, 'w') as f:
                json.dump(me, f)
            self.held = True
            return
        raise DetnasInputError(f'could not take the lock {self.path}; try again')

    def release(self) -> None:
        """Removes the lock if this process holds it."""
        if self.held and osp.isfile(self.path):
            os.remove(self.path)
        self.held = False

    def __enter__(self) -> 'WorkDirLock':
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
