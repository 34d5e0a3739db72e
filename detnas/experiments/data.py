"""The data an experiment runs on: the demo data set made on demand, and the config
overrides that point a demo-style config at a data folder."""
import os.path as osp
from typing import List, Optional


def ensure_demo_data(data_root: str, tiny: bool = False, num_val: Optional[int] = None) -> str:
    """Makes the demo data set in ``data_root`` unless it is there; returns the folder with a
    trailing slash.

    Args:
        data_root: the folder.
        tiny: an 8 + 4 image set of 160 px for pipeline checks.
        num_val: val images (default the demo's 80); more make evaluation noise smaller, and
            the training images stay the same (they are drawn from their own generator).
    """
    from detnas.datasets.demo_coco import DemoCocoSpec, make_demo_coco
    data_root = osp.abspath(data_root)
    if not osp.isfile(osp.join(data_root, 'annotations', 'instances_val.json')):
        spec = (DemoCocoSpec(num_train=8, num_val=4, image_size=(160, 160), min_size=12,
                             max_size=80) if tiny else
                DemoCocoSpec(**({} if num_val is None else dict(num_val=num_val))))
        make_demo_coco(data_root, spec, progress=not tiny)
    return data_root + '/'


def data_root_options(data_root: str) -> List[str]:
    """``--cfg-options`` that point a demo-style config's loaders and evaluators at
    ``data_root`` (for tools that take a config file, e.g. tools/search.py)."""
    root = data_root.rstrip('/') + '/'
    return [f'{loader}.dataset.data_root={root}'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')] + [
        f'{evaluator}.ann_file={root}annotations/instances_val.json'
        for evaluator in ('val_evaluator', 'test_evaluator')]
