"""Weight-sharing MobileNetV2 supernet: every sub-net of a :class:`.MobileNetV2SearchSpace`
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
MobileNetV2 names); :meth:`ElasticMobileNetV2.static_state` gives the active sub-net's
tensors in the names of its exported :class:`AdaptedMobileNetV2` (skipped blocks left out,
the others renumbered), each elastic layer exporting its own slice.
"""
from typing import Dict, List, Optional, Sequence, Tuple

from torch import Tensor, nn

from detnas.models.backbones.adapted_mobilenet_v2 import (MOBILENET_V2_ARCH,
                                                         resolve_mobilenet_v2_arch)
from detnas.utils.errors import DetnasInputError
from mmdet.registry import MODELS
from ...supernet.backbone import ElasticBackbone
from ...supernet.layers import ElasticConvModule, StateDict, prefixed
from .ops import SKIP
from .space import MobileNetV2SearchSpace, effective_layers, mobilenet_v2_search_space


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

    def _select_hidden(self, in_channels: int) -> None:
        """Sets the expansion conv's active width for an input of ``in_channels``."""
        if self.with_expand_conv:
            self.expand_conv.conv.active_out_channels = int(round(in_channels
                                                                  * self.expand_ratio))

    def static_state(self, in_channels: int) -> StateDict:
        """The active sub-block as an :class:`AdaptedInvertedResidual`'s tensors, for an
        input of ``in_channels``."""
        self._select_hidden(in_channels)
        out, mid = {}, in_channels
        if self.with_expand_conv:
            out.update(prefixed('expand_conv', self.expand_conv.static_state(in_channels)))
            mid = self.expand_conv.conv.active_out_channels
        out.update(prefixed('depthwise_conv', self.depthwise_conv.static_state(mid)))
        out.update(prefixed('linear_conv', self.linear_conv.static_state(mid)))
        return out

    def forward(self, x: Tensor) -> Tensor:
        out = x
        if self.with_expand_conv:
            self._select_hidden(x.shape[1])
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
        search_space: ``dict(stages=[...])`` or a :class:`.MobileNetV2SearchSpace`
            (default: :func:`.mobilenet_v2_search_space`).
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
        super().__init__(init_cfg)
        self.space = self.space_of(dict(search_space=search_space,
                                        seed_arch_setting=seed_arch_setting,
                                        seed_widen_factor=seed_widen_factor))
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

    @staticmethod
    def space_of(args: dict) -> MobileNetV2SearchSpace:
        """The search space of constructor arguments (``search_space``, ``seed_arch_setting``,
        ``seed_widen_factor``; see :meth:`arguments`)."""
        space = args['search_space']
        return MobileNetV2SearchSpace.from_config(
            space if space is not None else mobilenet_v2_search_space(),
            seed_arch_setting=args['seed_arch_setting'],
            seed_widen_factor=args['seed_widen_factor'])

    # ------------------------------------------------------------------ sub-nets
    def set_arch(self, arch: Dict) -> None:
        """Selects a sub-net (an arch dict of :attr:`space`; validated)."""
        arch = self.space.validate(arch)
        active = []
        for name, st_arch in zip(self.layers, arch['stages']):
            flags = []
            for j, block in enumerate(getattr(self, name)):
                layer = st_arch['layers'][j] if j < st_arch['depth'] else None
                on = layer is not None and layer['op'] != SKIP
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

    def static_state(self) -> StateDict:
        """The active sub-net as its :class:`AdaptedMobileNetV2`'s state dict: block ``j``
        of a stage becomes block ``i``, the ``i``-th of its non-skipped layers."""
        out = prefixed('conv1', self.conv1.static_state(3))
        in_c = self.stem_channels
        for s, stage in enumerate(self.arch['stages'], 1):
            blocks = getattr(self, f'layer{s}')
            for i, (j, _) in enumerate(effective_layers(stage)):
                out.update(prefixed(f'layer{s}.{i}', blocks[j].static_state(in_c)))
                in_c = stage['width']
        out.update(prefixed('conv2', self.conv2.static_state(in_c)))
        return out

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
        """Raises :class:`DetnasInputError` when a seed checkpoint is not the architecture
        ``seed_arch_setting`` / ``seed_widen_factor`` / ``last_channels`` describe (naming
        the first differing layer)."""
        layout = resolve_mobilenet_v2_arch(self.seed_arch_setting,
                                           widen_factor=self.seed_widen_factor)
        fix = ('set the supernet\'s seed_arch_setting / seed_widen_factor to the '
               'checkpoint\'s architecture')
        stem = seed_spec.conv('conv1.conv').out_channels
        if stem != layout.stem_channels:
            raise DetnasInputError(f'seed {source}: conv1 has {stem} channels, '
                                   f'seed_arch_setting gives {layout.stem_channels}; {fix}')
        stages = seed_spec.stages()
        if len(stages) != len(layout.stages):
            raise DetnasInputError(f'seed {source}: {len(stages)} stages, seed_arch_setting '
                                   f'has {len(layout.stages)}; {fix}')
        for s, (blocks, settings) in enumerate(zip(stages, layout.stages), 1):
            if len(blocks) != len(settings):
                raise DetnasInputError(f'seed {source}: layer{s} has {len(blocks)} blocks, '
                                       f'seed_arch_setting says {len(settings)}; {fix}')
            for b, setting in zip(blocks, settings):
                dw = seed_spec.find(b.name, 'depthwise_conv.conv')
                out = seed_spec.find(b.name, 'linear_conv.conv').out_channels
                got = (dw.in_channels, out, dw.kernel_size[0])
                want = (setting.mid_channels, setting.out_channels, setting.kernel_size)
                if got != want:
                    raise DetnasInputError(
                        f'seed {source}: block {b.name} has (hidden, out, kernel) = {got}, '
                        f'seed_arch_setting gives {want}; {fix}')
        if 'conv2.conv' in {c.key for c in seed_spec.convs}:
            last = seed_spec.conv('conv2.conv').out_channels
            if last != self.last_channels:
                raise DetnasInputError(f'seed {source}: conv2 has {last} channels, the '
                                       f'supernet\'s last_channels is {self.last_channels}; '
                                       f'set it to {last}')

    def stem_modules(self) -> List[nn.Module]:
        return [self.conv1]
