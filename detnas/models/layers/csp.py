"""CSP stage wrapper (stage-level gradient-path design): split, process one part, merge."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from .yolo_conv import YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, check_channels, conv_bn_act


@MODELS.register_module()
class CSPStage(BaseModule):
    """Cross Stage Partial stage around any block.

    The input is split by two 1x1 convs into a processed part (``split_ratio`` of
    ``out_channels``) and a crossing part (the rest); the processed part goes through
    ``num_blocks`` blocks built from ``block_cfg`` (``in_channels = out_channels =`` part
    width, registered in mmdet ``MODELS``), is concatenated with the crossing part and a
    1x1 transition conv gives ``out_channels``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        block_cfg: config of one inner block (default :class:`PRNBlock`).
        num_blocks: number of inner blocks.
        split_ratio: fraction of ``out_channels`` that the blocks process; the product
            must be a whole number strictly between 0 and ``out_channels``.
        conv_cfg: mmcv conv config.
        norm_cfg: norm config.
        act_cfg: activation config.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 block_cfg: Optional[dict] = None,
                 num_blocks: int = 1,
                 split_ratio: float = 0.5,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = YOLOV7_NORM_CFG,
                 act_cfg: dict = YOLOV7_ACT_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        check_channels('CSPStage', in_channels=in_channels, out_channels=out_channels,
                       num_blocks=num_blocks)
        part = out_channels * split_ratio
        if part != int(part) or not 0 < part < out_channels:
            raise ValueError(
                f'CSPStage: split_ratio={split_ratio} of out_channels={out_channels} gives '
                f'{part} channels; the split must be a whole number strictly between 0 and '
                f'{out_channels} (choose out_channels divisible by 1/split_ratio)')
        part = int(part)
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        block_cfg = dict(type='PRNBlock') if block_cfg is None else dict(block_cfg)
        self.main_conv = conv_bn_act(in_channels, part, 1, **cfg)
        self.cross_conv = conv_bn_act(in_channels, out_channels - part, 1, **cfg)
        self.blocks = nn.Sequential(*[
            MODELS.build(dict(block_cfg, in_channels=part, out_channels=part))
            for _ in range(num_blocks)
        ])
        self.final_conv = conv_bn_act(out_channels, out_channels, 1, **cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_conv(torch.cat([self.blocks(self.main_conv(x)), self.cross_conv(x)], 1))
