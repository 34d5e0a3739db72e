"""SPPCSPC: spatial pyramid pooling inside a cross-stage-partial block (YOLOv7 neck top)."""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from .yolo_conv import YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, check_channels, conv_bn_act


@MODELS.register_module()
class SPPCSPC(BaseModule):
    """SPP in a CSP block.

    Main path: ``conv1x1 [-> conv3x3 -> conv1x1]`` -> cat(x, maxpool_k(x) for k) ->
    ``conv1x1 [-> conv3x3]``; short path: ``conv1x1``; output: ``conv1x1(cat[main, short])``.
    The bracketed 3x3 parts exist in the full form (YOLOv7/X/P6); ``use_3x3=False`` is the
    YOLOv7-tiny form.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        mid_channels: width of both paths (default ``out_channels``, as official).
        kernel_sizes: stride-1 max-pool sizes.
        use_3x3: full form (True) or tiny form (False).
        conv_cfg: mmcv conv config.
        norm_cfg: norm config.
        act_cfg: activation config.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mid_channels: Optional[int] = None,
                 kernel_sizes: Sequence[int] = (5, 9, 13),
                 use_3x3: bool = True,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = YOLOV7_NORM_CFG,
                 act_cfg: dict = YOLOV7_ACT_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        mid = out_channels if mid_channels is None else mid_channels
        check_channels('SPPCSPC', in_channels=in_channels, out_channels=out_channels,
                       mid_channels=mid)
        if any(k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f'SPPCSPC: kernel_sizes must be odd to keep the size, '
                             f'got {tuple(kernel_sizes)}')
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        pre = [conv_bn_act(in_channels, mid, 1, **cfg)]
        post = [conv_bn_act((len(kernel_sizes) + 1) * mid, mid, 1, **cfg)]
        if use_3x3:
            pre += [conv_bn_act(mid, mid, 3, **cfg), conv_bn_act(mid, mid, 1, **cfg)]
            post += [conv_bn_act(mid, mid, 3, **cfg)]
        self.pre_pool = nn.Sequential(*pre)
        self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernel_sizes)
        self.post_pool = nn.Sequential(*post)
        self.short_conv = conv_bn_act(in_channels, mid, 1, **cfg)
        self.final_conv = conv_bn_act(2 * mid, out_channels, 1, **cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pre_pool(x)
        y = self.post_pool(torch.cat([y] + [pool(y) for pool in self.pools], dim=1))
        return self.final_conv(torch.cat([y, self.short_conv(x)], dim=1))
