"""YOLOR implicit knowledge layers and a prediction conv that absorbs them at deploy."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from .yolo_conv import check_channels, conv_from_weights


@MODELS.register_module()
class ImplicitA(nn.Module):
    """Learned per-channel offset added to the input: ``x + a`` (a ~ N(mean, std)).

    Args:
        channels: number of channels.
        mean: init mean.
        std: init standard deviation.
    """

    def __init__(self, channels: int, mean: float = 0.0, std: float = 0.02):
        super().__init__()
        check_channels('ImplicitA', channels=channels)
        self.implicit = nn.Parameter(torch.empty(1, channels, 1, 1))
        nn.init.normal_(self.implicit, mean=mean, std=std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.implicit


@MODELS.register_module()
class ImplicitM(nn.Module):
    """Learned per-channel scale multiplied onto the input: ``x * m`` (m ~ N(mean, std)).

    Args:
        channels: number of channels.
        mean: init mean.
        std: init standard deviation.
    """

    def __init__(self, channels: int, mean: float = 1.0, std: float = 0.02):
        super().__init__()
        check_channels('ImplicitM', channels=channels)
        self.implicit = nn.Parameter(torch.empty(1, channels, 1, 1))
        nn.init.normal_(self.implicit, mean=mean, std=std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.implicit


@MODELS.register_module()
class ImplicitConv2d(BaseModule):
    """``m * conv(x + a)``: YOLOv7's ``IDetect`` prediction layer.

    At deploy (:meth:`switch_to_deploy`) the add and the multiply fold into the conv:
    ``conv(x + a) = conv(x) + (sum_k W) a`` because ``a`` is constant over space (this
    needs an unpadded conv, so only ``padding=0`` is accepted), and
    ``m * (W x + b) = (m W) x + m b``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: kernel size (no padding is used).
        use_add: use the ImplicitA before the conv.
        use_mul: use the ImplicitM after the conv.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 use_add: bool = True,
                 use_mul: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        check_channels('ImplicitConv2d', in_channels=in_channels, out_channels=out_channels)
        self.implicit_a = ImplicitA(in_channels) if use_add else None
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, bias=True)
        self.implicit_m = ImplicitM(out_channels) if use_mul else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.implicit_a is not None:
            x = self.implicit_a(x)
        x = self.conv(x)
        if self.implicit_m is not None:
            x = self.implicit_m(x)
        return x

    def switch_to_deploy(self) -> None:
        """Folds the implicit layers into ``conv`` (idempotent)."""
        if self.implicit_a is None and self.implicit_m is None:
            return
        weight = self.conv.weight.detach()
        bias = self.conv.bias.detach()
        if self.implicit_a is not None:
            a = self.implicit_a.implicit.detach().reshape(-1)
            bias = bias + weight.sum(dim=(2, 3)) @ a
        if self.implicit_m is not None:
            m = self.implicit_m.implicit.detach().reshape(-1)
            weight = weight * m.reshape(-1, 1, 1, 1)
            bias = bias * m
        self.conv = conv_from_weights(self.conv, weight, bias)
        self.implicit_a = None
        self.implicit_m = None
