"""E-ELAN: extended ELAN (expand, shuffle and merge cardinality), two forms.

* :class:`EELANBlock` is the form of the YOLOv7 paper (Fig. 2d): the computational
  blocks are group convolutions with ``groups`` cardinalities and ``groups`` times the
  channels; every block output is split into its ``groups`` groups, the groups are
  shuffled (group j of every block concatenated), and the ``groups`` shuffled maps are
  added (merge cardinality) before the unchanged transition layer.
* :class:`EELANSumBlock` is the arrangement the official YOLOv7-E6E checkpoint uses:
  ``groups`` independent ELAN blocks on the same input whose outputs are added.
"""
from typing import List, Optional

import torch
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from .elan import ELANBlock, check_elan_depth
from .yolo_conv import YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, check_channels, conv_bn_act


def shuffle_cardinality(feats: List[torch.Tensor], groups: int) -> torch.Tensor:
    """Shuffle step of E-ELAN.

    Args:
        feats: K maps of shape (N, groups * C_k, H, W), each laid out as ``groups``
            contiguous groups of C_k channels.
        groups: the cardinality.

    Returns:
        (N, groups, sum_k C_k, H, W): entry ``[:, j]`` concatenates group j of every map,
        so each shuffled group has the channel count of the un-expanded ELAN concat.
    """
    parts = []
    for f in feats:
        n, c, h, w = f.shape
        if c % groups:
            raise ValueError(f'shuffle_cardinality: a map with {c} channels cannot be split '
                             f'into groups={groups} equal groups')
        parts.append(f.reshape(n, groups, c // groups, h, w))
    return torch.cat(parts, dim=2)


@MODELS.register_module()
class EELANBlock(BaseModule):
    """Paper-form E-ELAN (group conv expand, shuffle, merge by addition).

    The two entry 1x1 convs see the whole input and produce ``groups * mid_channels``
    (``groups`` cardinalities); the 3x3 chain is group convs with ``groups`` groups and
    ``groups * block_channels`` channels; the concatenated maps are shuffled into
    ``groups`` groups (:func:`shuffle_cardinality`) and summed, then the transition 1x1
    conv maps the ELAN-sized concat to ``out_channels``. With ``groups=1`` it is exactly
    :class:`ELANBlock`.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        mid_channels: width of each entry branch per cardinality.
        block_channels: width of the 3x3 convs per cardinality (default mid_channels).
        num_convs: length of the 3x3 chain.
        concat_every: concatenate every k-th chain output.
        groups: cardinality g (channel multiplier and group count).
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
                 groups: int = 2,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = YOLOV7_NORM_CFG,
                 act_cfg: dict = YOLOV7_ACT_CFG,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        block_channels = mid_channels if block_channels is None else block_channels
        check_channels('EELANBlock', in_channels=in_channels, out_channels=out_channels,
                       mid_channels=mid_channels, block_channels=block_channels, groups=groups)
        check_elan_depth('EELANBlock', num_convs, concat_every)
        self.groups, self.concat_every = groups, concat_every
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        g = groups
        self.short_conv = conv_bn_act(in_channels, g * mid_channels, 1, **cfg)
        self.main_conv = conv_bn_act(in_channels, g * mid_channels, 1, **cfg)
        self.blocks = nn.ModuleList(
            conv_bn_act(g * (mid_channels if i == 0 else block_channels), g * block_channels,
                        3, groups=g, **cfg) for i in range(num_convs))
        self.cat_channels = 2 * mid_channels + (num_convs // concat_every) * block_channels
        self.final_conv = conv_bn_act(self.cat_channels, out_channels, 1, **cfg)

    def expanded_outputs(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Expanded-cardinality maps to concatenate, newest first (each g*C_k channels)."""
        outs = [self.short_conv(x)]
        y = self.main_conv(x)
        outs.append(y)
        for i, conv in enumerate(self.blocks):
            y = conv(y)
            if (i + 1) % self.concat_every == 0:
                outs.append(y)
        return outs[::-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shuffled = shuffle_cardinality(self.expanded_outputs(x), self.groups)
        return self.final_conv(shuffled.sum(dim=1))


@MODELS.register_module()
class EELANSumBlock(BaseModule):
    """Official YOLOv7-E6E arrangement: ``groups`` parallel ELAN blocks, outputs added.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        groups: number of parallel ELAN blocks (2 in YOLOv7-E6E).
        **elan_kwargs: the remaining :class:`ELANBlock` arguments (mid_channels, ...).
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int = 2,
                 init_cfg: Optional[dict] = None, **elan_kwargs):
        super().__init__(init_cfg)
        check_channels('EELANSumBlock', groups=groups)
        self.branches = nn.ModuleList(
            ELANBlock(in_channels, out_channels, **elan_kwargs) for _ in range(groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out + branch(x)
        return out
