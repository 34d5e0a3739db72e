"""ELAN: the efficient layer aggregation block of YOLOv7 (backbone and head forms)."""
from typing import List, Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from .yolo_conv import YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, check_channels, conv_bn_act


def check_elan_depth(owner: str, num_convs: int, concat_every: int) -> None:
    """Raises ValueError unless ``num_convs`` is a positive multiple of ``concat_every``."""
    if not isinstance(num_convs, int) or num_convs < 1:
        raise ValueError(f'{owner}: num_convs must be a positive int, got {num_convs!r}')
    if not isinstance(concat_every, int) or concat_every < 1:
        raise ValueError(f'{owner}: concat_every must be a positive int, got {concat_every!r}')
    if num_convs % concat_every:
        raise ValueError(
            f'{owner}: num_convs={num_convs} is not a multiple of concat_every={concat_every}; '
            f'the block concatenates every {concat_every}-th 3x3 conv output, so the chain '
            f'must end on a concatenated output. Use a depth (deepen_factor) that gives a '
            f'multiple of {concat_every} convs.')


@MODELS.register_module()
class ELANBlock(BaseModule):
    """ELAN block: two 1x1 entry branches, a 3x3 chain, concat, 1x1 transition.

    ``short = conv1x1(x)``, ``y0 = conv1x1(x)``, ``y_i = conv3x3(y_{i-1})`` for
    ``i = 1..num_convs``; the output is ``conv1x1(cat[y_n, ..., y_k, y0, short])`` where
    every ``concat_every``-th ``y_i`` is concatenated (newest first, as in the official
    models). YOLOv7's backbone uses ``concat_every=2`` and ``block_channels=mid_channels``;
    its head (neck) uses ``concat_every=1`` and ``block_channels=mid_channels // 2``.

    Args:
        in_channels: input channels.
        out_channels: output channels of the transition conv.
        mid_channels: width of each entry branch.
        block_channels: width of the 3x3 convs (default ``mid_channels``).
        num_convs: length of the 3x3 chain.
        concat_every: concatenate every k-th chain output.
        conv_cfg: mmcv conv config.
        norm_cfg: norm config.
        act_cfg: activation config.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mid_channels: int,
                 block_channels: Optional[int] = None,
                 num_convs: int = 4,
                 concat_every: int = 2,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = YOLOV7_NORM_CFG,
                 act_cfg: dict = YOLOV7_ACT_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        block_channels = mid_channels if block_channels is None else block_channels
        check_channels('ELANBlock', in_channels=in_channels, out_channels=out_channels,
                       mid_channels=mid_channels, block_channels=block_channels)
        check_elan_depth('ELANBlock', num_convs, concat_every)
        self.concat_every = concat_every
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.short_conv = conv_bn_act(in_channels, mid_channels, 1, **cfg)
        self.main_conv = conv_bn_act(in_channels, mid_channels, 1, **cfg)
        self.blocks = nn.ModuleList(
            conv_bn_act(mid_channels if i == 0 else block_channels, block_channels, 3, **cfg)
            for i in range(num_convs))
        self.cat_channels = 2 * mid_channels + (num_convs // concat_every) * block_channels
        self.final_conv = conv_bn_act(self.cat_channels, out_channels, 1, **cfg)

    def branch_outputs(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The feature maps that are concatenated, newest first."""
        outs = [self.short_conv(x)]
        y = self.main_conv(x)
        outs.append(y)
        for i, conv in enumerate(self.blocks):
            y = conv(y)
            if (i + 1) % self.concat_every == 0:
                outs.append(y)
        return outs[::-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_conv(torch.cat(self.branch_outputs(x), dim=1))
