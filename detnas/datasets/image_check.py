"""Decode-checks image files up front, so a truncated or corrupt image fails the run before
training instead of crashing an epoch hours in.

Each image is decoded once with Pillow (JPEGs at 1/8 scale: every byte is still read, so a
truncated file is caught at a fraction of the cost), in a thread pool. Files that decoded
are remembered by ``(path, size, mtime)``, in memory and in a small cache file per
annotation file, so later runs only ``stat`` them; a file that changes is decoded again.
The cache folder is ``$DETNAS_CACHE_DIR`` (default ``~/.cache/detnas``)/``image_check``.
"""
import hashlib
import json
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, List, Optional, Set, Tuple

# (absolute path, size, mtime_ns) of every file decoded in this process
_DECODED: Set[Tuple[str, int, int]] = set()
CACHE_VERSION = 1


def decode_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be decoded as an image (``None`` if it can).

    Args:
        path: an image file.
    """
    from PIL import Image
    try:
        with Image.open(path) as img:
            if img.format == 'JPEG':
                img.draft(img.mode, (1, 1))  # DCT-domain 1/8 scale, still reads every byte
            img.load()
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError, ...
        text = str(e)
        if 'cannot identify image file' in text:
            return 'not an image Pillow can read'
        return f'{type(e).__name__}: {text}'
    return None


def cache_dir() -> str:
    """The folder of the decode caches (``$DETNAS_CACHE_DIR/image_check``)."""
    root = os.environ.get('DETNAS_CACHE_DIR') or osp.join(osp.expanduser('~'), '.cache',
                                                          'detnas')
    return osp.join(root, 'image_check')


def _cache_file(key: str) -> str:
    return osp.join(cache_dir(), hashlib.sha1(osp.abspath(key).encode()).hexdigest()[:20]
                    + '.json')


def _read_cache(path: str) -> Dict[str, list]:
    try:
        with open(path) as f:
            data = json.load(f)
        if data.get('version') == CACHE_VERSION and isinstance(data.get('decoded'), dict):
            return data['decoded']
    except (OSError, ValueError, AttributeError):
        pass  # no cache yet, or an unreadable one: decode again
    return {}


def _write_cache(path: str, decoded: Dict[str, list]) -> None:
    """Best effort: a read-only home only costs the next run its decoding."""
    from ..utils.io import atomic_write_json
    try:
        atomic_write_json(path, dict(version=CACHE_VERSION, decoded=decoded))
    except OSError:
        pass


def undecodable_images(paths: Iterable[str], cache_key: Optional[str] = None,
                       workers: Optional[int] = None) -> List[Tuple[str, str]]:
    """The images of ``paths`` that cannot be decoded, as ``(path, reason)`` in input order.

    Args:
        paths: existing, non-empty image files.
        cache_key: names the cache file (e.g. the annotation file); ``None``: memory only.
        workers: decoding threads (default: the CPU count, at most 8).
    """
    cache_path = _cache_file(cache_key) if cache_key else None
    cached = _read_cache(cache_path) if cache_path else {}
    stamps, todo = {}, []
    for path in paths:
        full = osp.abspath(path)
        st = os.stat(full)
        stamp = (full, st.st_size, st.st_mtime_ns)
        stamps[path] = stamp
        if stamp in _DECODED or cached.get(full) == [st.st_size, st.st_mtime_ns]:
            continue
        todo.append(path)
    workers = workers or min(8, os.cpu_count() or 1)
    if len(todo) > 1 and workers > 1:
        with ThreadPoolExecutor(workers) as pool:  # Pillow decodes without the GIL
            problems = list(pool.map(decode_problem, todo))
    else:
        problems = [decode_problem(p) for p in todo]
    bad = []
    for path, problem in zip(todo, problems):
        if problem:
            bad.append((path, problem))
        else:
            _DECODED.add(stamps[path])
    if cache_path and todo:
        decoded = {s[0]: [s[1], s[2]] for p, s in stamps.items() if s in _DECODED}
        _write_cache(cache_path, decoded)
    return bad
