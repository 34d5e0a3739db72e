"""Shared fixtures: a tiny generated COCO data set and helpers to run the tools."""
import pytest


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    """A 12/6-image demo data set of 128x128 images (generated once per session)."""
    from detnas.datasets.demo_coco import DemoCocoSpec, make_demo_coco
    out = str(tmp_path_factory.mktemp('tiny_coco'))
    spec = DemoCocoSpec(seed=3, num_train=12, num_val=6, image_size=(128, 128),
                        objects_per_image=(2, 5), min_size=10, max_size=64)
    make_demo_coco(out, spec, progress=False)
    return out


@pytest.fixture(scope='session', autouse=True)
def private_cache_dir(tmp_path_factory):
    """Decode caches (detnas.datasets.image_check) of this session, and of the tools it
    runs, go to a temporary folder instead of ~/.cache/detnas."""
    import os
    old = os.environ.get('DETNAS_CACHE_DIR')
    os.environ['DETNAS_CACHE_DIR'] = str(tmp_path_factory.mktemp('detnas_cache'))
    yield os.environ['DETNAS_CACHE_DIR']
    if old is None:
        os.environ.pop('DETNAS_CACHE_DIR', None)
    else:
        os.environ['DETNAS_CACHE_DIR'] = old
