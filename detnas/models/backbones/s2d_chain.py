"""S2D-chain: GiraffeDet's light backbone (space-to-depth blocks after a two-conv stem)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn


class SpaceToDepth(nn.Module):
    """Parameter-free ``(N, C, H, W) -> (N, C * b * b, ceil(H / b), ceil(W / b))``.

    Output channel ``c * b * b + i * b + j`` holds input pixel ``(b * y + i, b * x + j)`` of
    channel ``c`` (the layout of ``F.unfold`` / ``pixel_unshuffle``). Sizes that are not a
    multiple of ``b`` are zero-padded at the bottom/right first, so the output size matches
    a stride-``b`` convolution's ``ceil(H / b)``.

    Args:
        block_size: spatial block edge ``b``.
    """

    def __init__(self, block_size: int = 2):
        super().__init__()
        if not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f'block_size must be a positive int, got {block_size!r}')
        self.block_size = block_size

    def forward(self, x: Tensor) -> Tensor:
        b = self.block_size
        pad_h, pad_w = -x.shape[-2] % b, -x.shape[-1] % b
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        return F.pixel_unshuffle(x, b)


class S2DBlock(nn.Sequential):
    """Space-to-depth followed by a 1x1 Conv-BN-act.

    Args:
        in_channels: channels before the rearrangement.
        out_channels: output channels.
        block_size: space-to-depth block size.
        conv_cfg: conv config.
        norm_cfg: norm config.
        act_cfg: activation config.
    """

    def __init__(self, in_channels: int, out_channels: int, block_size: int = 2,
                 conv_cfg: Optional[dict] = None, norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None):
        super().__init__()
        self.add_module('s2d', SpaceToDepth(block_size))
        self.add_module('conv', ConvModule(in_channels * block_size**2, out_channels, 1,
                                           conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                           act_cfg=act_cfg))


@MODELS.register_module()
class S2DChain(BaseModule):
    """Space-to-depth chain backbone of GiraffeDet (Jiang et al., ICLR 2022).

    A stem of two 3x3 stride-2 Conv-BN-act layers, then one :class:`S2DBlock` per output
    level; each block divides the resolution by ``block_size``, so level ``i`` has stride
    ``4 * block_size ** (i + 1)`` (P3-P7: 8 ... 128 with the official five widths).

    Args:
        arch: key of :attr:`arch_settings` giving stem and level widths.
        stem_channels: override of the two stem widths.
        widths: override of the per-level widths (its length is the number of levels).
        widen_factor: multiplies every width (rounded, at least 1).
        out_indices: which levels to return (default: all).
        block_size: space-to-depth block size (2 halves the resolution per level).
        conv_cfg: conv config.
        norm_cfg: norm config.
        act_cfg: activation config (official: SiLU).
        norm_eval: keep BN layers in eval mode during training.
        init_cfg: initialisation config (official: Kaiming; trained from scratch).
    """
    arch_settings = {
        # official GiraffeDet (11.2 M params)
        'giraffedet': dict(stem=(32, 64), widths=(128, 256, 512, 1024, 2048)),
        # a narrower chain for CPU demos
        'tiny': dict(stem=(16, 32), widths=(32, 64, 128, 256, 256)),
    }

    def __init__(self,
                 arch: str = 'giraffedet',
                 stem_channels: Optional[Sequence[int]] = None,
                 widths: Optional[Sequence[int]] = None,
                 widen_factor: float = 1.0,
                 out_indices: Optional[Sequence[int]] = None,
                 block_size: int = 2,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = dict(type='BN', requires_grad=True),
                 act_cfg: Optional[dict] = dict(type='SiLU'),
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Kaiming', layer='Conv2d', a=0, distribution='uniform',
                     mode='fan_in', nonlinearity='leaky_relu')):
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'arch must be one of {sorted(self.arch_settings)}, got {arch!r}')
        setting = self.arch_settings[arch]
        stem_channels = list(setting['stem'] if stem_channels is None else stem_channels)
        widths = list(setting['widths'] if widths is None else widths)
        if len(stem_channels) != 2:
            raise ValueError(f'stem_channels must give 2 widths, got {stem_channels!r}')
        if not widths:
            raise ValueError('widths must list at least one level width')
        if not widen_factor > 0:
            raise ValueError(f'widen_factor must be > 0, got {widen_factor!r}')
        stem_channels = [max(1, round(c * widen_factor)) for c in stem_channels]
        widths = [max(1, round(c * widen_factor)) for c in widths]
        out_indices = tuple(range(len(widths)) if out_indices is None else out_indices)
        if not out_indices or any(not 0 <= i < len(widths) for i in out_indices):
            raise ValueError(f'out_indices must be non-empty and within 0..{len(widths) - 1} '
                             f'(one per level width), got {out_indices!r}')
        self.out_indices = out_indices
        self.widths = widths
        self.norm_eval = norm_eval
        self.out_channels = [widths[i] for i in out_indices]
        self.strides = [4 * block_size**(i + 1) for i in range(len(widths))]

        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.stem = self.build_stem_layer(stem_channels, cfg)
        self.stages = nn.ModuleList()
        in_ch = stem_channels[-1]
        for width in widths:
            self.stages.append(self.build_stage_layer(in_ch, width, block_size, cfg))
            in_ch = width

    @staticmethod
    def build_stem_layer(stem_channels: Sequence[int], cfg: dict) -> nn.Sequential:
        """Two 3x3 stride-2 Conv-BN-act layers (stride 4)."""
        return nn.Sequential(
            ConvModule(3, stem_channels[0], 3, stride=2, padding=1, **cfg),
            ConvModule(stem_channels[0], stem_channels[1], 3, stride=2, padding=1, **cfg))

    @staticmethod
    def build_stage_layer(in_channels: int, out_channels: int, block_size: int,
                          cfg: dict) -> S2DBlock:
        """One space-to-depth block: one level, stride x ``block_size``."""
        return S2DBlock(in_channels, out_channels, block_size, **cfg)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self
