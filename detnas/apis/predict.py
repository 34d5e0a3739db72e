"""A trained detector from a config and checkpoint, and batched prediction on images."""
from typing import List, Optional, Sequence, Union

import numpy as np


def load_trained_detector(config: str, checkpoint: str, device: str = 'cpu',
                          cfg_options: Optional[dict] = None, allow_new_keys: bool = False):
    """The config's detector with the checkpoint's weights, in eval mode on ``device``.

    The checkpoint must fit the model key for key (a mismatch is an error listing the keys,
    not mmdet's silent partial load). ``model.cfg`` is the resolved config and
    ``model.dataset_meta`` the classes (from the checkpoint's meta, else the config).

    Args:
        config: config file.
        checkpoint: a runner checkpoint or a bare state dict.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'`` ...
        cfg_options: config overrides (``--cfg-options``).
        allow_new_keys: accept overrides of keys the config lacks.

    Raises:
        DetnasInputError: a missing file, a bad config key or a checkpoint that does not fit.
    """
    from ..utils.checkpoint import checked_state_dict, read_checkpoint
    from ..utils.config import build_model, load_config
    from ..utils.errors import DetnasInputError
    ckpt = read_checkpoint(checkpoint)
    cfg = load_config(config, cfg_options, allow_new_keys)
    if not isinstance(cfg.get('model'), dict):
        raise DetnasInputError(f'config {config!r} has no `model` dict: pass the config of '
                               'the detector the checkpoint was trained with')
    cfg.model.setdefault('backbone', {})['init_cfg'] = None  # weights come from checkpoint
    model = build_model(cfg, config)
    # checked key for key; strict=False only lets BN's num_batches_tracked be absent
    model.load_state_dict(checked_state_dict(model, ckpt, checkpoint, config), strict=False)
    meta = ckpt.get('meta') or {}
    classes = (meta.get('dataset_meta') or {}).get('classes') or _config_classes(cfg)
    model.dataset_meta = dict(classes=tuple(classes) if classes else ())
    model.cfg = cfg
    return model.to(device).eval()


def _config_classes(cfg) -> Sequence[str]:
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    return (dataset.get('metainfo') or {}).get('classes', ())


def test_pipeline(cfg, arrays: bool):
    """The config's test pipeline for unlabelled images: without ``LoadAnnotations``; its
    first step reads numpy arrays (BGR, H x W x 3) when ``arrays``, else file paths."""
    from mmcv.transforms import Compose
    from mmdet.utils import get_test_pipeline_cfg
    steps = [s for s in get_test_pipeline_cfg(cfg) if 'LoadAnnotations' not in s['type']]
    if arrays:
        steps[0] = dict(steps[0], type='mmdet.LoadImageFromNDArray')
    return Compose(steps)


def predict_images(model, images: Sequence[Union[str, np.ndarray]], batch_size: int = 4
                   ) -> List:
    """Detections of every image, ``batch_size`` images per forward pass.

    Args:
        model: from :func:`load_trained_detector`.
        images: file paths, or BGR arrays (H x W x 3, uint8), not mixed.
        batch_size: images per forward pass.

    Returns:
        one ``InstanceData`` (``bboxes`` x1 y1 x2 y2 in the image's pixels, ``scores``,
        ``labels``) per image, after the model's ``test_cfg`` (score threshold, NMS).
    """
    import torch
    if not len(images):
        return []
    arrays = isinstance(images[0], np.ndarray)
    pipeline = test_pipeline(model.cfg, arrays)
    out = []
    for start in range(0, len(images), batch_size):
        items = [pipeline(dict(img=im, img_id=0) if arrays else dict(img_path=im, img_id=0))
                 for im in images[start:start + batch_size]]
        batch = dict(inputs=[d['inputs'] for d in items],
                     data_samples=[d['data_samples'] for d in items])
        with torch.no_grad():
            out += [s.pred_instances.cpu() for s in model.test_step(batch)]
    return out
