"""Helpers shared by the mapping tests (no tests here; imported by test_mapping_*.py)."""
import torch
from torch import nn

from detnas.models.backbones.adapted_mobilenet_v2 import AdaptedMobileNetV2

TINY_ARCH = [[1, 8, 1, 1], [6, 16, 2, 2], [6, 24, 3, 2]]


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and non-trivial BN statistics (eval-mode outputs depend on them)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.weight[0].numel()
            m.weight.data.copy_(torch.randn(m.weight.shape, generator=g) * (2 / fan_in) ** .5)
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
    model.eval()  # mmdet's ResNet.train() returns None
    return model


def tiny_mbv2(arch=TINY_ARCH, stem=16, last=32, seed=0, **kw) -> AdaptedMobileNetV2:
    n = len(arch)
    return randomize(AdaptedMobileNetV2(arch_setting=arch, stem_channels=stem,
                                        last_channels=last, out_indices=tuple(range(n + 1)),
                                        **kw), seed)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-12)).item()
