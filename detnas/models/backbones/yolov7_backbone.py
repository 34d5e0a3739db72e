"""YOLOv7 backbones (tiny, L, X and the P6 models W6, E6, D6, E6E)."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS
from ..layers.e_elan import EELANBlock, EELANSumBlock
from ..layers.elan import ELANBlock
from ..layers.mp import DownC, MPDownsample
from ..layers.reorg import ReOrg
from ..layers.yolo_conv import YOLOV7_ACT_CFG, YOLOV7_NORM_CFG, conv_bn_act
from .stage_freezing import StageFreezingMixin

# stem: list of ('conv', out, kernel, stride) or ('reorg',)
# stage: (downsample, down_out, elan_out, mid, block, num_convs, concat_every)
#   downsample in {None, 'conv' (3x3 s2), 'maxpool', 'mp' (MPDownsample), 'downc'}
_P5_STEM_L = [('conv', 32, 3, 1), ('conv', 64, 3, 2), ('conv', 64, 3, 1)]


@MODELS.register_module()
class YOLOv7Backbone(StageFreezingMixin, BaseModule):
    """YOLOv7 backbone: a stem, then stages of (transition, ELAN-family block).

    The arch tables reproduce the official ``cfg/deploy/yolov7*.yaml`` backbones.
    Stage ``i`` (1-based) has stride ``2 ** (i + 1)``; the stem is stage 0.

    Args:
        arch: 'tiny', 'l', 'x' (P5, strides 8-32) or 'w6', 'e6', 'd6', 'e6e' (P6, 8-64).
        widen_factor: channel multiplier (``int(c * widen_factor)``); transitions and
            E-ELAN need the resulting widths to split evenly (a ValueError says which).
        deepen_factor: multiplier of each ELAN's 3x3-chain length (rounded); the backbone
            ELAN concatenates every 2nd conv, so the result must stay even.
        block_type: None (the arch's own block), 'ELANBlock', 'EELANBlock' (paper-form
            E-ELAN) or 'EELANSumBlock' (official E6E form).
        eelan_groups: cardinality of the E-ELAN block types.
        out_indices: stages whose outputs are returned (default P3-P5 or P3-P6).
        frozen_stages: stages 0..frozen_stages are frozen (-1: none).
        norm_eval: keep BN layers in eval mode during training.
        conv_cfg: mmcv conv config.
        norm_cfg: norm config.
        act_cfg: activation config (default SiLU; tiny defaults to LeakyReLU(0.1)).
        init_cfg: mmengine init config.
    """

    arch_settings = {
        'tiny': dict(
            stem=[('conv', 32, 3, 2), ('conv', 64, 3, 2)],
            stages=[(None, 64, 64, 32, 32, 2, 1), ('maxpool', 64, 128, 64, 64, 2, 1),
                    ('maxpool', 128, 256, 128, 128, 2, 1),
                    ('maxpool', 256, 512, 256, 256, 2, 1)],
            block='ELANBlock', act_cfg=dict(type='LeakyReLU', negative_slope=0.1,
                                            inplace=True)),
        'l': dict(
            stem=_P5_STEM_L,
            stages=[('conv', 128, 256, 64, 64, 4, 2), ('mp', 256, 512, 128, 128, 4, 2),
                    ('mp', 512, 1024, 256, 256, 4, 2), ('mp', 1024, 1024, 256, 256, 4, 2)],
            block='ELANBlock'),
        'x': dict(
            stem=[('conv', 40, 3, 1), ('conv', 80, 3, 2), ('conv', 80, 3, 1)],
            stages=[('conv', 160, 320, 64, 64, 6, 2), ('mp', 320, 640, 128, 128, 6, 2),
                    ('mp', 640, 1280, 256, 256, 6, 2), ('mp', 1280, 1280, 256, 256, 6, 2)],
            block='ELANBlock'),
        'w6': dict(
            stem=[('reorg', ), ('conv', 64, 3, 1)],
            stages=[('conv', 128, 128, 64, 64, 4, 2), ('conv', 256, 256, 128, 128, 4, 2),
                    ('conv', 512, 512, 256, 256, 4, 2), ('conv', 768, 768, 384, 384, 4, 2),
                    ('conv', 1024, 1024, 512, 512, 4, 2)],
            block='ELANBlock'),
        'e6': dict(
            stem=[('reorg', ), ('conv', 80, 3, 1)],
            stages=[('downc', 160, 160, 64, 64, 6, 2), ('downc', 320, 320, 128, 128, 6, 2),
                    ('downc', 640, 640, 256, 256, 6, 2), ('downc', 960, 960, 384, 384, 6, 2),
                    ('downc', 1280, 1280, 512, 512, 6, 2)],
            block='ELANBlock'),
        'd6': dict(
            stem=[('reorg', ), ('conv', 96, 3, 1)],
            stages=[('downc', 192, 192, 64, 64, 8, 2), ('downc', 384, 384, 128, 128, 8, 2),
                    ('downc', 768, 768, 256, 256, 8, 2),
                    ('downc', 1152, 1152, 384, 384, 8, 2),
                    ('downc', 1536, 1536, 512, 512, 8, 2)],
            block='ELANBlock'),
        'e6e': dict(
            stem=[('reorg', ), ('conv', 80, 3, 1)],
            stages=[('downc', 160, 160, 64, 64, 6, 2), ('downc', 320, 320, 128, 128, 6, 2),
                    ('downc', 640, 640, 256, 256, 6, 2), ('downc', 960, 960, 384, 384, 6, 2),
                    ('downc', 1280, 1280, 512, 512, 6, 2)],
            block='EELANSumBlock'),
    }
    block_types = ('ELANBlock', 'EELANBlock', 'EELANSumBlock')

    def __init__(self,
                 arch: str = 'l',
                 widen_factor: float = 1.0,
                 deepen_factor: float = 1.0,
                 block_type: Optional[str] = None,
                 eelan_groups: int = 2,
                 out_indices: Optional[Sequence[int]] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = YOLOV7_NORM_CFG,
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'YOLOv7Backbone: arch must be one of '
                             f'{sorted(self.arch_settings)}, got {arch!r}')
        if widen_factor <= 0 or deepen_factor <= 0:
            raise ValueError('YOLOv7Backbone: widen_factor and deepen_factor must be > 0, got '
                             f'{widen_factor} and {deepen_factor}')
        setting = self.arch_settings[arch]
        block_type = block_type or setting['block']
        if block_type not in self.block_types:
            raise ValueError(f'YOLOv7Backbone: block_type must be one of {self.block_types}, '
                             f'got {block_type!r}')
        num_stages = len(setting['stages'])
        if out_indices is None:
            out_indices = tuple(range(2, num_stages + 1))
        if any(not 0 <= i <= num_stages for i in out_indices):
            raise ValueError(f'YOLOv7Backbone: out_indices {tuple(out_indices)} must lie in '
                             f'[0, {num_stages}] for arch {arch!r}')
        self.arch, self.out_indices = arch, tuple(out_indices)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        act_cfg = act_cfg or setting.get('act_cfg', YOLOV7_ACT_CFG)
        self._cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.widen_factor, self.deepen_factor = widen_factor, deepen_factor

        in_ch = 3
        stem = []
        for item in setting['stem']:
            if item[0] == 'reorg':
                stem.append(ReOrg())
                in_ch *= 4
            else:
                _, out, k, s = item
                out = self._width(out)
                stem.append(conv_bn_act(in_ch, out, k, s, **self._cfg))
                in_ch = out
        self.stem = nn.Sequential(*stem)
        self.stage_names = ['stem']
        self.out_channels: List[int] = [in_ch]
        for i, stage in enumerate(setting['stages'], start=1):
            layer, in_ch = self._build_stage(i, stage, in_ch, block_type, eelan_groups)
            self.add_module(f'stage{i}', layer)
            self.stage_names.append(f'stage{i}')
            self.out_channels.append(in_ch)

    def _width(self, channels: int) -> int:
        return max(int(channels * self.widen_factor), 1)

    def _build_stage(self, index, stage, in_ch, block_type, groups) -> Tuple[nn.Module, int]:
        down, down_out, elan_out, mid, block, n, every = stage
        down_out, elan_out = self._width(down_out), self._width(elan_out)
        mid, block = self._width(mid), self._width(block)
        n = max(int(round(n * self.deepen_factor)), 1)
        cfg = self._cfg
        layers = []
        try:
            if down == 'conv':
                layers.append(conv_bn_act(in_ch, down_out, 3, 2, **cfg))
            elif down == 'maxpool':
                layers.append(nn.MaxPool2d(2, 2))
                down_out = in_ch
            elif down == 'mp':
                layers.append(MPDownsample(in_ch, down_out, **cfg))
            elif down == 'downc':
                layers.append(DownC(in_ch, down_out, **cfg))
            else:
                down_out = in_ch
            kwargs = dict(mid_channels=mid, block_channels=block, num_convs=n,
                          concat_every=every, **cfg)
            if block_type == 'ELANBlock':
                layers.append(ELANBlock(down_out, elan_out, **kwargs))
            elif block_type == 'EELANBlock':
                layers.append(EELANBlock(down_out, elan_out, groups=groups, **kwargs))
            else:
                layers.append(EELANSumBlock(down_out, elan_out, groups=groups, **kwargs))
        except ValueError as err:
            raise ValueError(f'YOLOv7Backbone(arch={self.arch!r}, widen_factor='
                             f'{self.widen_factor}, deepen_factor={self.deepen_factor}) '
                             f'stage {index}: {err}') from err
        return nn.Sequential(*layers), elan_out

    def frozen_modules(self) -> List[nn.Module]:
        return [getattr(self, name) for name in self.stage_names[:self.frozen_stages + 1]]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = []
        for i, name in enumerate(self.stage_names):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
