"""Files that are always complete: written to a temp file, synced, then renamed."""
import json
import os
import os.path as osp
import tempfile
from typing import Any


def atomic_write_json(path: str, data: Any) -> None:
    """Writes ``data`` as JSON so that ``path`` is always complete or untouched.

    Args:
        path: destination file; its folder is created if needed.
        data: JSON-serialisable object.
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable; not every file system allows opening a folder
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
