"""Detectors for the deployment tests: the demo configs with seeded random weights whose
outputs are of order one (so a 1e-4 relative tolerance is a real test)."""
import math

import torch
from helpers import ROOT, randomise_bn
from mmengine.config import Config

from detnas.utils.config import build_detector

RETINANET = f'{ROOT}/configs/baselines/retinanet_mbv2_fpn_demo.py'
GFOCAL = f'{ROOT}/configs/baselines/gfocalv2_mbv2_fpn_demo.py'
DDF = f'{ROOT}/configs/ddf/retinanet_mbv2_fpn_ddf_demo.py'

# a searched MobileNetV2 (not the seed): per-block expansions and kernels, narrower and
# wider stages, a dilated stride-1 stage; outputs layer3, layer5, layer7
SEARCHED_ARCH = [[1, 16, 1, 1, 3, 1], [[3, 4], 16, 2, 2, [5, 7], 1],
                 [[6, 3], 40, 2, 2, [3, 5], 1], [[4, 6, 3], 48, 3, 2, [3, 5, 3], 1],
                 [[3, 6], 88, 2, 1, [5, 3], 2], [[3], 128, 1, 2, [7], 1],
                 [6, 200, 1, 1, 3, 1]]
SEARCHED_CHANNELS = [40, 88, 200]


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Seeded weights with unit-scale activations: conv/linear weights N(0, 1/fan_in),
    norm scales near 1, biases and BN statistics small (zero-initialised layers, such as the
    fusion block's output projection and offset predictor, become non-trivial)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if p.dim() > 1:
                p.copy_(noise / math.sqrt(p[0].numel()))
            elif name.endswith('weight'):
                p.copy_(1 + 0.1 * noise)
            else:
                p.copy_(0.1 * noise)
    randomise_bn(model, seed)
    return model.eval()


def detector(config: str, seed: int = 0, searched_backbone: bool = False):
    """The config's detector in eval mode with :func:`randomise`'d weights.

    Args:
        config: a config file.
        seed: the weights' seed.
        searched_backbone: replace the backbone by an AdaptedMobileNetV2 of
            :data:`SEARCHED_ARCH` (the neck's input widths follow).
    """
    cfg = Config.fromfile(config)
    if searched_backbone:
        cfg.model.backbone = dict(type='AdaptedMobileNetV2', arch_setting=SEARCHED_ARCH,
                                  out_indices=(2, 4, 6))
        cfg.model.neck.in_channels = SEARCHED_CHANNELS
    torch.manual_seed(seed)
    return randomise(build_detector(cfg), seed)


def image_batch(size: int = 128, seed: int = 5) -> torch.Tensor:
    """A preprocessed-looking input ``(1, 3, size, size)``."""
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))
