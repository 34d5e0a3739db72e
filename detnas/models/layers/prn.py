"""PRN-style partial residual block (layer-level gradient-path design)."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from .yolo_conv import YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, check_channels, conv_bn_act


@MODELS.register_module()
class PRNBlock(BaseModule):
    """Bottleneck whose residual reaches only part of the channels (masked residual).

    ``y = conv3x3_s(conv1x1(x))``; the shortcut (average-pooled when ``stride > 1``) is
    added to the first ``partial_channels`` channels of ``y`` only, so the gradient of
    the remaining channels takes the longer path (Partial Residual Networks; Wang et al.,
    gradient path analysis, layer level).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        stride: stride of the 3x3 conv (1 or 2).
        expansion: hidden width of the 1x1 conv relative to ``out_channels``.
        partial_ratio: fraction of ``min(in, out)`` channels that get the residual; the
            product must be a whole number.
        conv_cfg: mmcv conv config.
        norm_cfg: norm config.
        act_cfg: activation config.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 expansion: float = 1.0,
                 partial_ratio: float = 0.5,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = YOLOV7_NORM_CFG,
                 act_cfg: dict = YOLOV7_ACT_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        check_channels('PRNBlock', in_channels=in_channels, out_channels=out_channels)
        if stride not in (1, 2):
            raise ValueError(f'PRNBlock: stride must be 1 or 2, got {stride}')
        hidden = int(out_channels * expansion)
        if hidden < 1 or hidden != out_channels * expansion:
            raise ValueError(f'PRNBlock: out_channels * expansion = {out_channels * expansion} '
                             'must be a positive whole number of channels')
        partial = min(in_channels, out_channels) * partial_ratio
        if not 0 < partial_ratio <= 1 or partial != int(partial) or partial < 1:
            raise ValueError(
                f'PRNBlock: partial_ratio={partial_ratio} of min(in_channels, out_channels)='
                f'{min(in_channels, out_channels)} gives {partial} residual channels; it '
                'must be a whole number >= 1 (choose widths divisible by 1/partial_ratio)')
        self.partial_channels = int(partial)
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = conv_bn_act(in_channels, hidden, 1, **cfg)
        self.conv2 = conv_bn_act(hidden, out_channels, 3, stride=stride, **cfg)
        self.shortcut_pool = (nn.AvgPool2d(stride, stride, ceil_mode=True)
                              if stride > 1 else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        k = self.partial_channels
        shortcut = self.shortcut_pool(x)[:, :k]
        return torch.cat([y[:, :k] + shortcut, y[:, k:]], dim=1)
