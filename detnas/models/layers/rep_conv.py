"""RepConv: 3x3 + 1x1 + identity training branches, one 3x3 conv at deploy."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from .yolo_conv import (YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, check_channels, conv_from_weights,
                        fuse_conv_bn_weights)


class _ConvBN(nn.Sequential):
    """conv (no bias) followed by a norm layer; a linear training branch of RepConv."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, groups, norm_cfg):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                              kernel_size // 2, groups=groups, bias=False)
        self.bn = build_norm_layer(norm_cfg, out_channels)[1]


@MODELS.register_module()
class RepConv(BaseModule):
    """Re-parameterisable conv (RepVGG style, as in YOLOv7's head).

    Training: ``act(bn(conv3x3(x)) + bn(conv1x1(x)) + bn(x))``; the identity branch exists
    only when ``in_channels == out_channels`` and ``stride == 1`` (and ``use_identity``).
    :meth:`switch_to_deploy` folds the three branches into one biased 3x3 conv.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: kernel of the dense branch (odd, >= 3).
        stride: stride of the dense and 1x1 branches.
        groups: convolution groups.
        use_identity: add the BN-identity branch when shapes allow it. YOLOv7's head
            RepConvs change the width, so they have none.
        norm_cfg: norm config of every branch (must be BatchNorm to deploy).
        act_cfg: activation after the sum.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 3,
                 stride: int = 1,
                 groups: int = 1,
                 use_identity: bool = True,
                 norm_cfg: dict = YOLOV7_NORM_CFG,
                 act_cfg: Optional[dict] = YOLOV7_ACT_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        check_channels('RepConv', in_channels=in_channels, out_channels=out_channels)
        if kernel_size < 3 or kernel_size % 2 == 0:
            raise ValueError(f'RepConv: kernel_size must be odd and >= 3, got {kernel_size}')
        if in_channels % groups or out_channels % groups:
            raise ValueError(f'RepConv: groups={groups} must divide in_channels={in_channels} '
                             f'and out_channels={out_channels}')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.groups = kernel_size, stride, groups
        self.dense = _ConvBN(in_channels, out_channels, kernel_size, stride, groups, norm_cfg)
        self.branch_1x1 = _ConvBN(in_channels, out_channels, 1, stride, groups, norm_cfg)
        self.identity = (build_norm_layer(norm_cfg, out_channels)[1]
                         if use_identity and in_channels == out_channels and stride == 1
                         else None)
        self.act = build_activation_layer(act_cfg) if act_cfg else nn.Identity()
        self.fused = None

    @property
    def deployed(self) -> bool:
        return self.fused is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            return self.act(self.fused(x))
        y = self.dense(x) + self.branch_1x1(x)
        if self.identity is not None:
            y = y + self.identity(x)
        return self.act(y)

    def equivalent_kernel_bias(self):
        """The (weight, bias) of the single conv equal to the three branches (eval mode)."""
        weight, bias = fuse_conv_bn_weights(self.dense.conv, self.dense.bn)
        w1, b1 = fuse_conv_bn_weights(self.branch_1x1.conv, self.branch_1x1.bn)
        pad = self.kernel_size // 2
        weight = weight + F.pad(w1, [pad, pad, pad, pad])
        bias = bias + b1
        if self.identity is not None:
            in_per_group = self.in_channels // self.groups
            eye = torch.zeros_like(self.dense.conv.weight)
            idx = torch.arange(self.out_channels, device=eye.device)
            eye[idx, idx % in_per_group, pad, pad] = 1.0
            bn = self.identity
            std = (bn.running_var + bn.eps).sqrt()
            scale = (bn.weight if bn.affine else torch.ones_like(std)) / std
            shift = (bn.bias if bn.affine else torch.zeros_like(std)) - bn.running_mean * scale
            weight = weight + eye * scale.reshape(-1, 1, 1, 1)
            bias = bias + shift.detach()
        return weight.detach(), bias.detach()

    def switch_to_deploy(self) -> None:
        """Replaces the branches by one biased conv (idempotent)."""
        if self.fused is not None:
            return
        weight, bias = self.equivalent_kernel_bias()
        self.fused = conv_from_weights(self.dense.conv, weight, bias)
        del self.dense, self.branch_1x1
        self.identity = None
