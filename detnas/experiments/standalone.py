"""Stand-alone arms of an experiment: a backbone that starts from the seed's weights mapped
into it, fine-tuned alone.

The seed checkpoint is mapped into the fixed backbone (:func:`detnas.nas.mapping.map_weights`,
default rules), then the pointwise convs are refitted on unlabelled training images so the
mapped backbone reproduces the seed's features where it can
(:func:`detnas.nas.mapping.refit_mapping`, the last block of a shallower stage absorbing the
dropped ones). The detector config of the arm is the base detector with that backbone
(initialised from the mapped file) and its neck reading the backbone's widths.
"""
import copy
import os
import os.path as osp
from mmengine.config import Config

CALIBRATION_IMAGES = 64


def mapped_backbone(backbone: dict, seed: str, calibration_dir: str, out_file: str) -> str:
    """Maps ``seed`` into ``backbone`` (+ the refit) and saves it; an existing file is kept.

    Args:
        backbone: a fixed backbone config (``AdaptedMobileNetV2``, ``AdaptedResNet``).
        seed: the seed checkpoint (``detnas://`` alias or path).
        calibration_dir: images the refit reproduces the seed's outputs on.
        out_file: the checkpoint to write (backbone key names).

    Returns:
        ``out_file``.
    """
    if osp.isfile(out_file):
        return out_file
    from detnas.nas.mapping import (calibration_images, map_weights, refit_mapping,
                                    seed_backbone)
    from detnas.nas.mapping.spec import build_backbone
    target = build_backbone(backbone)
    result = map_weights(seed, target, target_state=target.state_dict())
    refit_mapping(result, seed_backbone(seed), target,
                  calibration_images(calibration_dir, CALIBRATION_IMAGES), absorb_dropped=True)
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    result.save(out_file + '.tmp')
    os.replace(out_file + '.tmp', out_file)
    return out_file


def output_widths(backbone: dict) -> list:
    """Channels of the outputs a fixed backbone config returns (its ``out_channels``)."""
    from mmdet.registry import MODELS
    return list(MODELS.build(dict(backbone, init_cfg=None)).out_channels)


def standalone_config(base: str, backbone: dict, seed: str, calibration_dir: str,
                      out_dir: str, name: str) -> str:
    """Writes ``out_dir/<name>.py``: the base detector with ``backbone`` initialised from the
    seed mapped into it (``out_dir/<name>_backbone.pth``) and its neck reading the
    backbone's widths; returns the config's path.

    Args:
        base: the seed detector config (its neck has ``in_channels``).
        backbone: the fixed backbone config of the arm.
        seed: the seed checkpoint.
        calibration_dir: images of the refit (the training images).
        out_dir: where the config and the mapped backbone go.
        name: the arm's name.
    """
    ckpt = mapped_backbone(backbone, seed, calibration_dir,
                           osp.join(out_dir, f'{name}_backbone.pth'))
    cfg = Config.fromfile(base)
    cfg.model.backbone = dict(copy.deepcopy(backbone),
                              init_cfg=dict(type='Pretrained', checkpoint=osp.abspath(ckpt)))
    cfg.model.neck.in_channels = output_widths(backbone)
    path = osp.join(out_dir, f'{name}.py')
    cfg.dump(path)
    return path
