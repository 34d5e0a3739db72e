"""Files that are always complete (written to a temp file, synced, then renamed), and data
files read with an error that names the file."""
import json
import os
import os.path as osp
import tempfile
from typing import Any

from .errors import DetnasInputError


def read_data_file(path: str, what: str) -> Any:
    """The content of a JSON or YAML file (``.yaml`` / ``.yml``: YAML, else JSON).

    Args:
        path: the file.
        what: what the file is, for messages (``'arch file'``).

    Raises:
        DetnasInputError: the file is missing or does not parse; the message names it.
    """
    import yaml
    if not osp.isfile(path):
        raise DetnasInputError(f'{what} {path!r} does not exist')
    as_yaml = path.lower().endswith(('.yaml', '.yml'))
    try:
        with open(path) as f:
            return yaml.safe_load(f) if as_yaml else json.load(f)
    except (ValueError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise DetnasInputError(f'{what} {path!r} is not valid {"yaml" if as_yaml else "json"}: '
                               f'{e}') from None


def atomic_write_json(path: str, data: Any) -> None:
    """Writes ``data`` as JSON so that ``path`` is always complete or untouched.

    Args:
        path: destination file; its folder is created if needed.
        data: JSON-serialisable object.
    """
    atomic_write_bytes(path, json.dumps(data, indent=1).encode())


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Writes ``data`` so that ``path`` is always complete or untouched (a temp file in the
    same folder, synced, then renamed over ``path``).

    Args:
        path: destination file; its folder is created if needed.
        data: the file's content (an encoded image, a serialised document).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + osp.basename(path) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
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
