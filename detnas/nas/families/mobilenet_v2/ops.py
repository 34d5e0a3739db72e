"""MobileNetV2 layer ops of the search space, registered in ``detnas.registry.SEARCH_OPS``.

``mbconv``: an inverted residual (1x1 expand, kxk depthwise, 1x1 linear) with options
``kernel_size``, ``expand_ratio`` and ``dilation``; ``skip``: the identity, only where the
layer keeps its shape (``stride == 1`` and ``in_channels == out_channels``). Both follow the
search-op signature ``(in_channels, out_channels, stride, **options)``.
"""
from torch import nn

from detnas.models.backbones.adapted_mobilenet_v2 import (AdaptedInvertedResidual,
                                                         MBBlockSetting)
from detnas.registry import SEARCH_OPS

MBCONV = 'mbconv'
SKIP = 'skip'


@SEARCH_OPS.register_module(name=MBCONV)
def mbconv_op(in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 3,
              expand_ratio: float = 6, dilation: int = 1, norm_cfg: dict = dict(type='BN'),
              act_cfg: dict = dict(type='ReLU6')) -> nn.Module:
    """MobileNetV2 inverted residual block (mmdet's layer names).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: depthwise stride.
        kernel_size: odd depthwise kernel size.
        expand_ratio: hidden channels / input channels (1: no expansion conv).
        dilation: depthwise dilation.
        norm_cfg: norm layer config.
        act_cfg: activation config.
    """
    if kernel_size % 2 == 0:
        raise ValueError(f'search op {MBCONV!r}: kernel_size must be odd, got {kernel_size}')
    mid = int(round(in_channels * expand_ratio))
    setting = MBBlockSetting(in_channels, out_channels, mid, kernel_size, stride, dilation,
                             expand_ratio != 1)
    return AdaptedInvertedResidual(setting, norm_cfg=norm_cfg, act_cfg=act_cfg)


@SEARCH_OPS.register_module(name=SKIP)
def skip_op(in_channels: int, out_channels: int, stride: int = 1) -> nn.Module:
    """The identity: removes a layer that keeps its input's shape.

    Args:
        in_channels: input channels (must equal ``out_channels``).
        out_channels: output channels.
        stride: must be 1.
    """
    if stride != 1 or in_channels != out_channels:
        raise ValueError(f'search op {SKIP!r} needs stride 1 and in_channels == '
                         f'out_channels; got stride {stride}, {in_channels} -> '
                         f'{out_channels} channels')
    return nn.Identity()
