"""YOLOv7 downsampling blocks: MP (max-pool branch + strided-conv branch) and DownC."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from .yolo_conv import YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, check_channels, conv_bn_act


def _half(owner: str, out_channels: int) -> int:
    check_channels(owner, out_channels=out_channels)
    if out_channels % 2:
        raise ValueError(f'{owner}: out_channels={out_channels} must be even, the output '
                         'concatenates two equal halves (max-pool branch, conv branch); '
                         'pick a widen_factor that keeps the width even')
    return out_channels // 2


@MODELS.register_module()
class MPDownsample(BaseModule):
    """YOLOv7 ``MP`` transition (stride 2): ``cat[conv3x3_s2(conv1x1(x)), conv1x1(maxpool(x))]``.

    Each branch gives ``out_channels // 2`` channels. The backbone uses
    ``out_channels == in_channels``, the PAFPN bottom-up path ``out_channels == 2 * in``.

    Args:
        in_channels: input channels.
        out_channels: output channels (even).
        conv_cfg: mmcv conv config.
        norm_cfg: norm config.
        act_cfg: activation config.
        init_cfg: mmengine init config.
    """

    def __init__(self, in_channels: int, out_channels: int, conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = YOLOV7_NORM_CFG, act_cfg: dict = YOLOV7_ACT_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        half = _half('MPDownsample', out_channels)
        check_channels('MPDownsample', in_channels=in_channels)
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.pool = nn.MaxPool2d(2, 2)
        self.pool_conv = conv_bn_act(in_channels, half, 1, **cfg)
        self.reduce_conv = conv_bn_act(in_channels, half, 1, **cfg)
        self.down_conv = conv_bn_act(half, half, 3, stride=2, **cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.down_conv(self.reduce_conv(x)), self.pool_conv(self.pool(x))], 1)


@MODELS.register_module()
class DownC(BaseModule):
    """YOLOv7-E6/D6/E6E transition (stride 2).

    ``cat[conv3x3_s2(conv1x1(x)), conv1x1(maxpool(x))]`` where the 1x1 before the strided
    conv keeps ``in_channels`` and each branch outputs ``out_channels // 2``.

    Args:
        in_channels: input channels.
        out_channels: output channels (even).
        conv_cfg: mmcv conv config.
        norm_cfg: norm config.
        act_cfg: activation config.
        init_cfg: mmengine init config.
    """

    def __init__(self, in_channels: int, out_channels: int, conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = YOLOV7_NORM_CFG, act_cfg: dict = YOLOV7_ACT_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        half = _half('DownC', out_channels)
        check_channels('DownC', in_channels=in_channels)
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.reduce_conv = conv_bn_act(in_channels, in_channels, 1, **cfg)
        self.down_conv = conv_bn_act(in_channels, half, 3, stride=2, **cfg)
        self.pool = nn.MaxPool2d(2, 2)
        self.pool_conv = conv_bn_act(in_channels, half, 1, **cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.down_conv(self.reduce_conv(x)), self.pool_conv(self.pool(x))], 1)
