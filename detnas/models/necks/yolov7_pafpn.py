"""YOLOv7 PAFPN neck (SPPCSPC top, ELAN top-down and bottom-up paths, output convs)."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from ..layers.e_elan import EELANBlock, EELANSumBlock
from ..layers.elan import ELANBlock
from ..layers.mp import DownC, MPDownsample
from ..layers.rep_conv import RepConv
from ..layers.sppcspc import SPPCSPC
from ..layers.yolo_conv import YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, conv_bn_act


def _elan(out, mid, block, n, every):
    return dict(out=out, mid=mid, block=block, n=n, every=every)


@MODELS.register_module()
class YOLOv7PAFPN(BaseModule):
    """YOLOv7 path-aggregation neck, as in the official ``cfg/deploy/yolov7*.yaml`` heads.

    Top level: SPPCSPC. Top-down, per level from the top: 1x1 reduce of the upper map,
    nearest 2x upsample, 1x1 lateral of the backbone map, concat, ELAN (head form).
    Bottom-up: transition (MP / 3x3 s2 conv / DownC) of the lower map, concat with the
    top-down map of that level (SPPCSPC output at the top), ELAN. Each level ends in an
    output conv (RepConv for YOLOv7-L, 3x3 conv otherwise). The P6 models also have
    auxiliary 3x3 convs on the top-down maps and the SPPCSPC output (training only; they
    feed the auxiliary head and are not built into the eval-mode graph).

    Args:
        arch: 'tiny', 'l', 'x', 'w6', 'e6', 'd6' or 'e6e'.
        in_channels: backbone output channels, low to high level (default: the arch's
            backbone at the same widen_factor).
        widen_factor: channel multiplier of the neck.
        deepen_factor: multiplier of each ELAN's 3x3-chain length.
        block_type: None (the arch's own), 'ELANBlock', 'EELANBlock' or 'EELANSumBlock'.
        eelan_groups: cardinality of the E-ELAN block types.
        use_aux: build the auxiliary outputs (default: True for the P6 archs).
        conv_cfg: mmcv conv config.
        norm_cfg: norm config.
        act_cfg: activation (default SiLU; tiny defaults to LeakyReLU(0.1)).
        init_cfg: mmengine init config.
    """

    arch_settings = {
        'tiny': dict(
            in_channels=[128, 256, 512],
            spp=dict(out=256, use_3x3=False),
            top_down=[(128, _elan(128, 64, 64, 2, 1)), (64, _elan(64, 32, 32, 2, 1))],
            bottom_up=[('conv', 128, _elan(128, 64, 64, 2, 1)),
                       ('conv', 256, _elan(256, 128, 128, 2, 1))],
            out=('conv', [128, 256, 512]), aux=None, block='ELANBlock',
            act_cfg=dict(type='LeakyReLU', negative_slope=0.1, inplace=True)),
        'l': dict(
            in_channels=[512, 1024, 1024],
            spp=dict(out=512, use_3x3=True),
            top_down=[(256, _elan(256, 256, 128, 4, 1)), (128, _elan(128, 128, 64, 4, 1))],
            bottom_up=[('mp', 256, _elan(256, 256, 128, 4, 1)),
                       ('mp', 512, _elan(512, 512, 256, 4, 1))],
            out=('repconv', [256, 512, 1024]), aux=None, block='ELANBlock'),
        'x': dict(
            in_channels=[640, 1280, 1280],
            spp=dict(out=640, use_3x3=True),
            top_down=[(320, _elan(320, 256, 256, 6, 2)), (160, _elan(160, 128, 128, 6, 2))],
            bottom_up=[('mp', 320, _elan(320, 256, 256, 6, 2)),
                       ('mp', 640, _elan(640, 512, 512, 6, 2))],
            out=('conv', [320, 640, 1280]), aux=None, block='ELANBlock'),
        'w6': dict(
            in_channels=[256, 512, 768, 1024],
            spp=dict(out=512, use_3x3=True),
            top_down=[(384, _elan(384, 384, 192, 4, 1)), (256, _elan(256, 256, 128, 4, 1)),
                      (128, _elan(128, 128, 64, 4, 1))],
            bottom_up=[('conv', 256, _elan(256, 256, 128, 4, 1)),
                       ('conv', 384, _elan(384, 384, 192, 4, 1)),
                       ('conv', 512, _elan(512, 512, 256, 4, 1))],
            out=('conv', [256, 512, 768, 1024]), aux=[320, 640, 960, 1280],
            block='ELANBlock'),
        'e6': dict(
            in_channels=[320, 640, 960, 1280],
            spp=dict(out=640, use_3x3=True),
            top_down=[(480, _elan(480, 384, 192, 6, 1)), (320, _elan(320, 256, 128, 6, 1)),
                      (160, _elan(160, 128, 64, 6, 1))],
            bottom_up=[('downc', 320, _elan(320, 256, 128, 6, 1)),
                       ('downc', 480, _elan(480, 384, 192, 6, 1)),
                       ('downc', 640, _elan(640, 512, 256, 6, 1))],
            out=('conv', [320, 640, 960, 1280]), aux=[320, 640, 960, 1280],
            block='ELANBlock'),
        'd6': dict(
            in_channels=[384, 768, 1152, 1536],
            spp=dict(out=768, use_3x3=True),
            top_down=[(576, _elan(576, 384, 192, 8, 1)), (384, _elan(384, 256, 128, 8, 1)),
                      (192, _elan(192, 128, 64, 8, 1))],
            bottom_up=[('downc', 384, _elan(384, 256, 128, 8, 1)),
                       ('downc', 576, _elan(576, 384, 192, 8, 1)),
                       ('downc', 768, _elan(768, 512, 256, 8, 1))],
            out=('conv', [384, 768, 1152, 1536]), aux=[384, 768, 1152, 1536],
            block='ELANBlock'),
    }
    arch_settings['e6e'] = dict(arch_settings['e6'], block='EELANSumBlock')

    def __init__(self,
                 arch: str = 'l',
                 in_channels: Optional[Sequence[int]] = None,
                 widen_factor: float = 1.0,
                 deepen_factor: float = 1.0,
                 block_type: Optional[str] = None,
                 eelan_groups: int = 2,
                 use_aux: Optional[bool] = None,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = YOLOV7_NORM_CFG,
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'YOLOv7PAFPN: arch must be one of {sorted(self.arch_settings)}, '
                             f'got {arch!r}')
        s = self.arch_settings[arch]
        self.arch, self.widen_factor, self.deepen_factor = arch, widen_factor, deepen_factor
        w = self._width
        if in_channels is None:
            in_channels = [w(c) for c in s['in_channels']]
        num_levels = len(s['in_channels'])
        if len(in_channels) != num_levels:
            raise ValueError(f'YOLOv7PAFPN(arch={arch!r}): in_channels needs {num_levels} '
                             f'levels (low to high), got {list(in_channels)}')
        self.in_channels, self.num_levels = list(in_channels), num_levels
        self.block_type = block_type or s['block']
        self.eelan_groups = eelan_groups
        self.use_aux = (s['aux'] is not None) if use_aux is None else use_aux
        if self.use_aux and s['aux'] is None:
            raise ValueError(f'YOLOv7PAFPN(arch={arch!r}): use_aux needs a P6 arch '
                             "('w6', 'e6', 'd6', 'e6e'); the P5 models have no auxiliary head")
        act_cfg = act_cfg or s.get('act_cfg', YOLOV7_ACT_CFG)
        cfg = self._cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        try:
            top = w(s['spp']['out'])
            self.spp = SPPCSPC(in_channels[-1], top, use_3x3=s['spp']['use_3x3'], **cfg)
            # top-down: from the top level down to P3
            self.reduce_convs, self.lateral_convs = nn.ModuleList(), nn.ModuleList()
            self.top_down_blocks = nn.ModuleList()
            prev, td_channels = top, [top]
            for (reduce, elan), lateral_in in zip(s['top_down'], in_channels[-2::-1]):
                reduce = w(reduce)
                self.reduce_convs.append(conv_bn_act(prev, reduce, 1, **cfg))
                self.lateral_convs.append(conv_bn_act(lateral_in, reduce, 1, **cfg))
                prev = w(elan['out'])
                self.top_down_blocks.append(self._block(2 * reduce, elan))
                td_channels.append(prev)
            self.upsample = nn.Upsample(scale_factor=2, mode='nearest')
            # bottom-up: from P3 to the top level; td_channels[::-1] is P3..top
            self.downsamples, self.bottom_up_blocks = nn.ModuleList(), nn.ModuleList()
            out_feats = [prev]
            for (kind, down_out, elan), skip in zip(s['bottom_up'], td_channels[::-1][1:]):
                down_out = w(down_out)
                self.downsamples.append(self._downsample(kind, prev, down_out))
                prev = w(elan['out'])
                self.bottom_up_blocks.append(self._block(down_out + skip, elan))
                out_feats.append(prev)
            out_kind, out_channels = s['out']
            self.out_channels = [w(c) for c in out_channels]
            self.out_convs = nn.ModuleList(
                RepConv(c_in, c_out, 3, use_identity=False, norm_cfg=norm_cfg,
                        act_cfg=act_cfg) if out_kind == 'repconv' else
                conv_bn_act(c_in, c_out, 3, **cfg)
                for c_in, c_out in zip(out_feats, self.out_channels))
            self.aux_convs = None
            if self.use_aux:
                self.aux_out_channels = [w(c) for c in s['aux']]
                self.aux_convs = nn.ModuleList(
                    conv_bn_act(c_in, c_out, 3, **cfg)
                    for c_in, c_out in zip(td_channels[::-1], self.aux_out_channels))
        except ValueError as err:
            raise ValueError(f'YOLOv7PAFPN(arch={arch!r}, widen_factor={widen_factor}, '
                             f'deepen_factor={deepen_factor}): {err}') from err

    def _width(self, channels: int) -> int:
        return max(int(channels * self.widen_factor), 1)

    def _block(self, in_channels: int, elan: dict) -> nn.Module:
        kwargs = dict(mid_channels=self._width(elan['mid']),
                      block_channels=self._width(elan['block']),
                      num_convs=max(int(round(elan['n'] * self.deepen_factor)), 1),
                      concat_every=elan['every'], **self._cfg)
        out = self._width(elan['out'])
        if self.block_type == 'ELANBlock':
            return ELANBlock(in_channels, out, **kwargs)
        if self.block_type == 'EELANBlock':
            return EELANBlock(in_channels, out, groups=self.eelan_groups, **kwargs)
        if self.block_type == 'EELANSumBlock':
            return EELANSumBlock(in_channels, out, groups=self.eelan_groups, **kwargs)
        raise ValueError("block_type must be 'ELANBlock', 'EELANBlock' or 'EELANSumBlock', "
                         f'got {self.block_type!r}')

    def _downsample(self, kind: str, in_channels: int, out_channels: int) -> nn.Module:
        if kind == 'mp':
            return MPDownsample(in_channels, out_channels, **self._cfg)
        if kind == 'downc':
            return DownC(in_channels, out_channels, **self._cfg)
        return conv_bn_act(in_channels, out_channels, 3, 2, **self._cfg)

    def switch_to_deploy(self) -> None:
        """Drops the training-only auxiliary convs (the out convs fuse themselves)."""
        self.aux_convs = None
        self.use_aux = False

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Returns the lead outputs (P3 first); in training with ``use_aux`` the
        auxiliary outputs follow them (2 * num_levels maps)."""
        if len(inputs) != self.num_levels:
            raise ValueError(f'YOLOv7PAFPN expects {self.num_levels} input levels, '
                             f'got {len(inputs)}')
        top = self.spp(inputs[-1])
        td: List[torch.Tensor] = [top]
        for i, lateral_in in enumerate(inputs[-2::-1]):
            up = self.upsample(self.reduce_convs[i](td[-1]))
            td.append(self.top_down_blocks[i](
                torch.cat([self.lateral_convs[i](lateral_in), up], dim=1)))
        td = td[::-1]  # P3 .. top
        feats = [td[0]]
        for i in range(self.num_levels - 1):
            down = self.downsamples[i](feats[-1])
            feats.append(self.bottom_up_blocks[i](torch.cat([down, td[i + 1]], dim=1)))
        outs = [conv(f) for conv, f in zip(self.out_convs, feats)]
        if self.use_aux and self.training:
            outs += [conv(f) for conv, f in zip(self.aux_convs, td)]
        return tuple(outs)
