"""Weight-sharing MobileNetV2 supernet: every sub-net of a :class:`~detnas.nas.space.SearchSpace`
is a slice of one set of weights.

Each stage holds ``max depth`` inverted-residual blocks at the stage's largest width, largest
expansion and largest kernel. :meth:`ElasticMobileNetV2.set_arch` selects a sub-net: a block
uses the first ``round(in * expand_ratio)`` hidden channels, the first ``width`` output
channels and the centre ``kernel x kernel`` crop of its depthwise kernel; a stage runs its
first ``depth`` blocks except the skipped ones (the identity). A block adds its input when
its stride is 1 and its active input and output widths are equal (mmdet's rule, so the
exported :class:`AdaptedMobileNetV2` computes the same function).

Initialisation (:meth:`ElasticMobileNetV2.init_weights` with ``seed`` set) maps the seed
checkpoint into the largest sub-net with :func:`detnas.nas.mapping.map_weights`: kernels are
zero-padded to the largest size, added blocks start as the identity, added channels keep
their random init with their *outgoing* weights zeroed (so no prefix of the channels depends
on them). Then the seed's channels of every channel space are sorted by importance (filter
L1 norm summed over every conv writing the space, so the blocks of a residual chain agree)
and the added channels go last: the first ``k`` channels are the ``k`` most important ones,
and the seed architecture selects exactly the seed's channels, so it computes the seed's
function (its outputs are the seed's up to the channel order, see
:meth:`ElasticMobileNetV2.seed_channel_order`).

The state-dict keys are those of the largest :class:`AdaptedMobileNetV2` (mmdet's
MobileNetV2 names), which :mod:`detnas.nas.export` slices for a chosen arch.
"""
from typing import Dict, List, Optional, Sequence, Tuple

from torch import Tensor, nn

from mmdet.registry import MODELS

from ..layers.elastic import ElasticConvModule
from .adapted_mobilenet_v2 import MOBILENET_V2_ARCH, resolve_mobilenet_v2_arch
from .elastic_base import ElasticBackbone


class ElasticInvertedResidual(nn.Module):
    """Inverted residual block at its largest size; a sub-net uses slices of it.

    Args:
        in_channels: largest input channels.
        out_channels: largest output channels.
        max_expand_ratio: largest expansion ratio (1: no expansion conv).
        max_kernel_size: largest depthwise kernel.
        stride: depthwise stride.
        dilation: depthwise dilation.
        first: first block of its stage (its input lives in another channel space).
        norm_cfg: BN config.
        act_cfg: activation of the expansion and depthwise convs.
    """

    def __init__(self, in_channels: int, out_channels: int, max_expand_ratio: float,
                 max_kernel_size: int, stride: int, dilation: int, first: bool,
                 norm_cfg: dict, act_cfg: dict):
        super().__init__()
        self.stride = stride
        self.with_expand_conv = max_expand_ratio != 1
        # structural residual flag (read by the mapping library's spec): blocks after the
        # first share their stage's channel space; at run time the first block may also be
        # residual (stride 1, equal active widths), see forward().
        self.with_res_shortcut = not first
        mid = int(round(in_channels * max_expand_ratio))
        if self.with_expand_conv:
            self.expand_conv = ElasticConvModule(in_channels, mid, 1, norm_cfg=norm_cfg,
                                                 act_cfg=act_cfg)
        self.depthwise_conv = ElasticConvModule(mid, mid, max_kernel_size, stride, dilation,
                                                depthwise=True, norm_cfg=norm_cfg,
                                                act_cfg=act_cfg)
        self.linear_conv = ElasticConvModule(mid, out_channels, 1, norm_cfg=norm_cfg)
        self.expand_ratio: float = max_expand_ratio

    def set_active(self, width: int, kernel_size: int, expand_ratio: float) -> None:
        """Selects the sub-block: output width, depthwise kernel, expansion ratio."""
        self.linear_conv.conv.active_out_channels = width
        self.depthwise_conv.conv.active_kernel_size = kernel_size
        self.expand_ratio = expand_ratio

    def forward(self, x: Tensor) -> Tensor:
        out = x
        if self.with_expand_conv:
            self.expand_conv.conv.active_out_channels = int(round(x.shape[1]
                                                                  * self.expand_ratio))
            out = self.expand_conv(out)
        out = self.linear_conv(self.depthwise_conv(out))
        if self.stride == 1 and out.shape[1] == x.shape[1]:
            out = out + x
        return out


@MODELS.register_module()
class ElasticMobileNetV2(ElasticBackbone):
    """MobileNetV2 supernet over a search space (see the module docstring).

    Output index ``i < num_stages`` is stage ``layer{i+1}``, ``num_stages`` the last 1x1 conv
    ``conv2`` (mmdet's MobileNetV2 convention).

    Args:
        search_space: ``dict(stages=[...])`` or a :class:`~detnas.nas.space.SearchSpace`
            (default: :func:`~detnas.nas.space.mobilenet_v2_search_space`).
        seed: seed checkpoint mapped in by :meth:`init_weights` (``detnas://`` alias, path,
            state dict); None keeps the random init.
        seed_arch_setting: the seed's arch table (its strides, dilations and its own arch).
        seed_widen_factor: the seed's width multiplier.
        last_channels: channels of ``conv2``.
        out_indices: outputs to return.
        frozen_stages: stages to freeze (-1: none; 0: the stem).
        norm_cfg: BN config (BN only).
        act_cfg: activation config.
        norm_eval: keep BN in eval mode while training.
        init_cfg: initialisation before the seed mapping.
    """
    seed_family = 'mobilenet_v2'
    extra_output_convs = {'conv2': 'conv2.conv'}

    def __init__(self,
                 search_space=None,
                 seed=None,
                 seed_arch_setting: Sequence[Sequence] = MOBILENET_V2_ARCH,
                 seed_widen_factor: float = 1.0,
                 last_channels: int = 1280,
                 out_indices: Sequence[int] = (1, 2, 4, 7),
                 frozen_stages: int = -1,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU6'),
                 norm_eval: bool = False,
                 init_cfg=None):
        from detnas.nas.space import SearchSpace, mobilenet_v2_search_space
        super().__init__(init_cfg)
        self.space = SearchSpace.from_config(
            search_space if search_space is not None else mobilenet_v2_search_space(),
            seed_arch_setting=seed_arch_setting, seed_widen_factor=seed_widen_factor)
        self.seed = seed
        self.seed_arch_setting = [list(r) for r in seed_arch_setting]
        self.seed_widen_factor = seed_widen_factor
        self._set_outputs(out_indices, len(self.space.stages) + 1, frozen_stages, norm_eval)
        self.norm_cfg, self.act_cfg = dict(norm_cfg), dict(act_cfg)
        self.stem_channels = resolve_mobilenet_v2_arch(
            seed_arch_setting, widen_factor=seed_widen_factor).stem_channels
        self.last_channels = last_channels

        self.conv1 = ElasticConvModule(3, self.stem_channels, 3, stride=2,
                                       norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.layers: List[str] = []
        in_channels = self.stem_channels
        for s, st in enumerate(self.space.stages, 1):
            blocks = nn.ModuleList()
            for j in range(st.max_depth):
                blocks.append(ElasticInvertedResidual(
                    in_channels, st.widths[-1], st.expand_ratios[-1], st.kernels[-1],
                    st.stride if j == 0 else 1, st.dilation, j == 0, norm_cfg, act_cfg))
                in_channels = st.widths[-1]
            self.add_module(f'layer{s}', blocks)
            self.layers.append(f'layer{s}')
        self.conv2 = ElasticConvModule(in_channels, last_channels, 1, norm_cfg=norm_cfg,
                                       act_cfg=act_cfg)
        self.layers.append('conv2')
        self._active: List[List[bool]] = []
        self.set_arch(self.space.largest())

    # ------------------------------------------------------------------ sub-nets
    def set_arch(self, arch: Dict) -> None:
        """Selects a sub-net (an arch dict of :attr:`space`; validated)."""
        arch = self.space.validate(arch)
        active = []
        for name, st_arch in zip(self.layers, arch['stages']):
            flags = []
            for j, block in enumerate(getattr(self, name)):
                layer = st_arch['layers'][j] if j < st_arch['depth'] else None
                on = layer is not None and layer['op'] != 'skip'
                if on:
                    block.set_active(st_arch['width'], layer['kernel'], layer['expand_ratio'])
                flags.append(on)
            active.append(flags)
        self._active, self.arch = active, arch

    def out_channels(self, arch: Optional[Dict] = None) -> Tuple[int, ...]:
        """Active channels of each output (of ``arch``, default the active one)."""
        arch = self.space.validate(arch) if arch is not None else self.arch
        widths = [s['width'] for s in arch['stages']] + [self.last_channels]
        return tuple(widths[i] for i in self.out_indices)

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            if name == 'conv2':
                x = self.conv2(x)
            else:
                for block, on in zip(getattr(self, name), self._active[i]):
                    if on:
                        x = block(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    # ------------------------------------------------------------------ seed
    def check_seed(self, seed_spec, source: str) -> None:
        from detnas.nas.supernet_init import check_seed_matches
        check_seed_matches(seed_spec, self.seed_arch_setting, self.seed_widen_factor,
                           self.last_channels, source)

    def stem_modules(self) -> List[nn.Module]:
        return [self.conv1]
