"""Small-object fusion block built on the dilated-deformable fusion op.

It enhances one shallow pyramid level with (a) the upsampled deep level and (b) a multi-rate
deformable context: K x K points at several dilation rates, moved by learned offsets and
weighted by a softmax attention over all points of a location (``detnas.ops``). The result is
added back to the shallow level through a zero-initialised 1x1 conv, so inserting the block
into a trained detector starts as the identity.

Being a tuple-in / tuple-out module it goes after (or before) any neck in a config:
``neck=[dict(type='FPN', ...), dict(type='DDFFusion', in_channels=256, ...)]`` (mmengine
builds a list of necks as a Sequential), and likewise after PAFPN, SAFPN or GFPN.
"""
from typing import Sequence, Tuple, Union

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor, nn

from detnas.ops import DilatedDeformFusion


@MODELS.register_module()
class DDFFusion(BaseModule):
    """Shallow + deep level fusion with a multi-rate deformable context (small objects).

    ``out[shallow] = x_s + proj(mix(DDF(lat_s(x_s) + up(lat_d(x_d)))))``; other levels pass
    through unchanged.

    Args:
        in_channels (int | Sequence[int]): channels of every input level (one int when all
            levels have the same width, e.g. after an FPN).
        shallow_level (int): index of the level to enhance. Defaults to 0.
        deep_level (int | None): index of the coarser level fused into it; None uses the
            shallow level alone. Defaults to 1.
        mid_channels (int | None): width of the fusion branch; None: the shallow level's.
        dilations (Sequence[int]): dilation rates of the context. Defaults to (1, 2, 3).
        kernel_size (int): odd grid size at each rate. Defaults to 3.
        groups (int): offset/attention groups of the op. Defaults to 4.
        softmax (bool): softmax attention over the points of a location. Defaults to True.
        upsample_mode (str): ``F.interpolate`` mode for the deep level. Defaults to 'nearest'.
        zero_init_out (bool): zero the output 1x1 conv so the block starts as the identity.
            Defaults to True.
        deterministic (bool): reproducible backward of the op. Defaults to False.
        conv_cfg (dict, optional): conv config of the ConvModules.
        norm_cfg (dict): norm config. Defaults to BN.
        act_cfg (dict): activation config. Defaults to ReLU.
        init_cfg (dict | list[dict], optional): initialisation config.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]],
                 shallow_level: int = 0,
                 deep_level: Union[int, None] = 1,
                 mid_channels: Union[int, None] = None,
                 dilations: Sequence[int] = (1, 2, 3),
                 kernel_size: int = 3,
                 groups: int = 4,
                 softmax: bool = True,
                 upsample_mode: str = 'nearest',
                 zero_init_out: bool = True,
                 deterministic: bool = False,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(in_channels, int):
            if in_channels < 1:
                raise ValueError(f'in_channels must be positive, got {in_channels}')
            self.in_channels = None  # any number of levels, all this wide
            c_s = c_d = in_channels
        else:
            self.in_channels = list(in_channels)
            n = len(self.in_channels)
            for name, lvl in (('shallow_level', shallow_level), ('deep_level', deep_level)):
                if lvl is not None and not 0 <= lvl < n:
                    raise ValueError(f'{name}={lvl} is out of range for {n} input levels '
                                     f'(in_channels={self.in_channels})')
            c_s = self.in_channels[shallow_level]
            c_d = self.in_channels[deep_level] if deep_level is not None else None
        if deep_level is not None and deep_level == shallow_level:
            raise ValueError('deep_level must differ from shallow_level (or be None)')
        self.shallow_level = shallow_level
        self.deep_level = deep_level
        self.upsample_mode = upsample_mode
        mid = mid_channels or c_s
        if mid % groups:
            raise ValueError(f'groups={groups} must divide the fusion width {mid} '
                             '(mid_channels, or the shallow level channels)')
        cm = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.lateral_shallow = ConvModule(c_s, mid, 1, **cm)
        self.lateral_deep = ConvModule(c_d, mid, 1, **cm) if deep_level is not None else None
        self.context = DilatedDeformFusion(
            mid,
            dilations=dilations,
            kernel_size=kernel_size,
            groups=groups,
            softmax=softmax,
            deterministic=deterministic)
        self.mix = ConvModule(mid, mid, 1, **cm)
        self.out_proj = nn.Conv2d(mid, c_s, 1)
        self.zero_init_out = zero_init_out
        self._reset_out()

    def _reset_out(self) -> None:
        if self.zero_init_out:
            nn.init.zeros_(self.out_proj.weight)
            nn.init.zeros_(self.out_proj.bias)

    def init_weights(self) -> None:
        super().init_weights()
        # init_cfg may re-initialise convs; keep the identity start and the op's predictor
        self._reset_out()
        self.context.reset_offset_weight()

    def forward(self, inputs: Tuple[Tensor, ...]) -> tuple:
        """Enhance ``inputs[shallow_level]``; return all levels as a tuple."""
        inputs = tuple(inputs)
        if self.in_channels is not None and len(inputs) != len(self.in_channels):
            raise ValueError(f'expected {len(self.in_channels)} levels, got {len(inputs)}')
        shallow = inputs[self.shallow_level]
        fused = self.lateral_shallow(shallow)
        if self.lateral_deep is not None:
            deep = self.lateral_deep(inputs[self.deep_level])
            fused = fused + F.interpolate(deep, size=shallow.shape[-2:], mode=self.upsample_mode)
        enhanced = shallow + self.out_proj(self.mix(self.context(fused)))
        outs = list(inputs)
        outs[self.shallow_level] = enhanced
        return tuple(outs)
