"""Decode checks of image files: what fails, and a cache that is never stale."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from detnas.datasets import image_check
from detnas.datasets.image_check import decode_problem, undecodable_images


@pytest.fixture
def images(tmp_path, monkeypatch):
    """Good images (JPEG, grayscale and RGBA PNG) and bad ones; a private cache folder."""
    monkeypatch.setenv('DETNAS_CACHE_DIR', str(tmp_path / 'cache'))
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    paths = {name: str(tmp_path / name) for name in
             ('good.jpg', 'gray.png', 'rgba.png', 'half.jpg', 'garbage.jpg', 'half.png')}
    Image.fromarray(rgb).save(paths['good.jpg'], quality=90)
    Image.fromarray(rgb[..., 0]).save(paths['gray.png'])
    Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(paths['rgba.png'])
    data = open(paths['good.jpg'], 'rb').read()
    open(paths['half.jpg'], 'wb').write(data[:len(data) // 2])
    open(paths['garbage.jpg'], 'wb').write(rng.bytes(3000))
    data = open(paths['rgba.png'], 'rb').read()
    open(paths['half.png'], 'wb').write(data[:len(data) // 2])
    return paths


def test_truncated_and_foreign_files_are_found(images):
    assert Image.open(images['gray.png']).mode == 'L'
    assert Image.open(images['rgba.png']).mode == 'RGBA'
    for good in ('good.jpg', 'gray.png', 'rgba.png'):
        assert decode_problem(images[good]) is None, good
    assert 'truncated' in decode_problem(images['half.jpg'])
    assert 'truncated' in decode_problem(images['half.png'])
    assert decode_problem(images['garbage.jpg']) == 'not an image Pillow can read'
    bad = undecodable_images(list(images.values()), cache_key='ann.json', workers=2)
    assert [os.path.basename(p) for p, _ in bad] == ['half.jpg', 'garbage.jpg', 'half.png']


def test_the_cache_skips_unchanged_files_and_never_trusts_changed_ones(images, tmp_path):
    good = images['good.jpg']
    assert undecodable_images([good], cache_key='ann.json') == []
    cache_files = os.listdir(tmp_path / 'cache' / 'image_check')
    assert len(cache_files) == 1
    image_check._DECODED.clear()  # a new process: only the cache file remembers
    # corrupt the file but keep its size and mtime: the cache answers, nothing is decoded
    st = os.stat(good)
    data = open(good, 'rb').read()
    open(good, 'wb').write(np.random.default_rng(1).bytes(len(data)))
    os.utime(good, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert undecodable_images([good], cache_key='ann.json') == []
    # the same bytes with a new mtime (any real rewrite) are decoded again and fail
    os.utime(good, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
    assert [p for p, _ in undecodable_images([good], cache_key='ann.json')] == [good]
    # and a rewrite of another size, however old its mtime, too
    open(good, 'wb').write(data[:len(data) // 2])
    os.utime(good, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert [p for p, _ in undecodable_images([good], cache_key='ann.json')] == [good]


def test_an_unreadable_cache_file_is_ignored(images, tmp_path):
    assert undecodable_images([images['gray.png']], cache_key='x.json') == []
    folder = tmp_path / 'cache' / 'image_check'
    (folder / os.listdir(folder)[0]).write_text('{"version": 1, "decoded": [')
    image_check._DECODED.clear()
    bad = undecodable_images([images['gray.png'], images['half.png']], cache_key='x.json')
    assert [p for p, _ in bad] == [images['half.png']]
    assert json.loads((folder / os.listdir(folder)[0]).read_text())['decoded'] == {
        images['gray.png']: [os.stat(images['gray.png']).st_size,
                             os.stat(images['gray.png']).st_mtime_ns]}  # rewritten, good only
