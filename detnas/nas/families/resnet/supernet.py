"""Weight-sharing ResNet supernet: every sub-net of a :class:`.ResNetSearchSpace` is a slice
of one set of weights.

Each stage holds ``max depth`` residual blocks at the stage's largest width and largest
kernel. :meth:`ElasticResNet.set_arch` selects a sub-net: a block writes the first ``width``
output channels (and ``width / expansion`` mid channels), its spatial convs use the centre
``kernel x kernel`` crop, the layer's dilation, and for ``groups > 1`` the block diagonal
of the dense weight (:func:`~detnas.nas.supernet.layers.block_diagonal`); a stage runs its
first ``depth`` blocks. A block adds a projection shortcut when its stride is not 1 or its
active input and output widths differ (mmdet's rule, so the exported
:class:`~detnas.models.backbones.AdaptedResNet` computes the same function). A layer whose
op is a registered search op (not ``'res_block'``) runs its own module, one instance per
(input width, output width) it can see, with no weights shared.

Initialisation maps the seed checkpoint into the residual blocks at their largest size
(:func:`detnas.nas.supernet.seed_init.map_seed_into_supernet`): kernels zero-padded, added blocks
as the identity, added channels with their outgoing weights zeroed, every channel space
sorted by importance, so the seed architecture computes the seed's function up to the
channel order (:meth:`seed_channel_order`). The state-dict keys of the residual blocks are
mmdet's ResNet names; :meth:`ElasticResNet.static_state` gives the active sub-net in the
names of its exported :class:`AdaptedResNet`.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn.functional as F
from torch import Tensor, nn

from detnas.models.backbones.adapted_resnet import EXPANSION, RES_BLOCK, build_layer
from detnas.utils.errors import DetnasInputError
from mmdet.registry import MODELS
from ...supernet.backbone import ElasticBackbone
from ...supernet.layers import ElasticConv2d, StateDict, batch_norm, prefixed
from .space import ResNetSearchSpace, resnet_search_space


def plugin_key(choice: int, c_in: int, c_out: int) -> str:
    """Name of the module of op choice ``choice`` for ``c_in -> c_out`` channels."""
    return f'op{choice}_{c_in}x{c_out}'


class ElasticResBlock(nn.Module):
    """A residual block at its largest size plus the registered-op choices of its layer.

    Args:
        kind: ``'basic'`` or ``'bottleneck'``.
        in_widths: the input widths the block can see (the largest holds the weights).
        widths: its output width choices.
        max_kernel: largest kernel of the spatial convs.
        stride: stride.
        first: first block of its stage: only it can change the shape, so only it holds a
            projection shortcut (``downsample``).
        plugin_ops: ``(choice index, layer dict)`` of the registered ops of the layer.
        norm_cfg: BN config.
    """

    def __init__(self, kind: str, in_widths: Sequence[int], widths: Sequence[int],
                 max_kernel: int, stride: int, first: bool,
                 plugin_ops: Sequence[Tuple[int, dict]], norm_cfg: dict):
        super().__init__()
        self.kind, self.stride = kind, stride
        c_in, c_out = max(in_widths), max(widths)
        mid = c_out // EXPANSION[kind]
        if kind == 'bottleneck':
            shapes = [(c_in, mid, 1, 1), (mid, mid, max_kernel, stride),
                      (mid, c_out, 1, 1)]
            self.spatial = (2, )
        else:
            shapes = [(c_in, mid, max_kernel, stride), (mid, c_out, max_kernel, 1)]
            self.spatial = (1, 2)
        for i, (ci, co, k, s) in enumerate(shapes, 1):
            self.add_module(f'conv{i}', ElasticConv2d(ci, co, k, s))
            self.add_module(f'bn{i}', batch_norm(co, norm_cfg))
        self.num_convs = len(shapes)
        self.downsample = nn.Sequential(ElasticConv2d(c_in, c_out, 1, stride),
                                        batch_norm(c_out, norm_cfg)) if first else None
        self.choices = nn.ModuleDict()
        for index, layer in plugin_ops:
            for ci in sorted(set(in_widths)):
                for co in widths:
                    try:
                        module = build_layer(kind, layer, ci, co, stride, norm_cfg, 'search op')
                    except (TypeError, ValueError) as e:
                        raise DetnasInputError(f'search op {layer} cannot be built for '
                                               f'{ci} -> {co} channels, stride {stride}: '
                                               f'{e}') from None
                    self.choices[plugin_key(index, ci, co)] = module
        self.width = c_out
        self.plugin: Optional[int] = None

    def set_active(self, width: int, layer: dict, choice: int) -> None:
        """Selects the sub-block: output width and layer op (``choice``: its index in
        the stage's ops, for registered ops)."""
        self.width = width
        if layer['op'] != RES_BLOCK:
            self.plugin = choice
            return
        self.plugin = None
        mid = width // EXPANSION[self.kind]
        for i in range(1, self.num_convs + 1):
            conv = getattr(self, f'conv{i}')
            conv.active_out_channels = width if i == self.num_convs else mid
            if i in self.spatial:
                conv.active_kernel_size = layer['kernel']
                conv.active_dilation = layer['dilation']
                conv.active_groups = layer['groups']
        if self.downsample is not None:
            self.downsample[0].active_out_channels = width

    def static_state(self, in_channels: int) -> StateDict:
        """The active sub-block as the tensors of its exported layer (an
        :class:`AdaptedResBlock`, or the registered op's own module), for an input of
        ``in_channels``."""
        if self.plugin is not None:
            module = self.choices[plugin_key(self.plugin, in_channels, self.width)]
            return {k: v.detach().clone() for k, v in module.state_dict().items()}
        out, c = {}, in_channels
        for i in range(1, self.num_convs + 1):
            conv = getattr(self, f'conv{i}').static_state(c)
            c = conv['weight'].shape[0]
            out.update(prefixed(f'conv{i}', conv))
            out.update(prefixed(f'bn{i}', getattr(self, f'bn{i}').static_state(c)))
        if self.stride != 1 or in_channels != self.width:
            out.update(prefixed('downsample.0', self.downsample[0].static_state(in_channels)))
            out.update(prefixed('downsample.1', self.downsample[1].static_state(self.width)))
        return out

    def forward(self, x: Tensor) -> Tensor:
        if self.plugin is not None:
            return self.choices[plugin_key(self.plugin, x.shape[1], self.width)](x)
        out = x
        for i in range(1, self.num_convs + 1):
            out = getattr(self, f'bn{i}')(getattr(self, f'conv{i}')(out))
            if i < self.num_convs:
                out = F.relu(out)
        if self.downsample is not None and (self.stride != 1 or x.shape[1] != self.width):
            x = self.downsample(x)
        return F.relu(out + x)


@MODELS.register_module()
class ElasticResNet(ElasticBackbone):
    """ResNet supernet over a search space (see the module docstring).

    Output index ``i`` is stage ``layer{i+1}`` (mmdet's ResNet convention).

    Args:
        search_space: ``dict(stages=[...])`` or a :class:`.ResNetSearchSpace` (default:
            :func:`.resnet_search_space` of ``seed_depth``).
        seed: seed checkpoint mapped in by :meth:`init_weights` (``detnas://`` alias, path,
            state dict); None keeps the random init.
        seed_depth: the seed's depth (18, 34, 50, 101, 152).
        seed_stages: the seed's stages in :class:`AdaptedResNet` form when it is not a
            published ResNet (with ``seed_block``).
        seed_block: ``'basic'`` or ``'bottleneck'`` (default: the kind of ``seed_depth``).
        stem_channels: channels of the 7x7 stem conv (the seed's).
        out_indices: outputs to return.
        frozen_stages: stages to freeze (-1: none; 0: the stem).
        norm_cfg: BN config (BN only).
        norm_eval: keep BN in eval mode while training.
        init_cfg: initialisation before the seed mapping.
    """
    seed_family = 'resnet'

    def __init__(self,
                 search_space=None,
                 seed=None,
                 seed_depth: int = 50,
                 seed_stages: Optional[Sequence[dict]] = None,
                 seed_block: Optional[str] = None,
                 stem_channels: int = 64,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.space = self.space_of(dict(search_space=search_space, seed_depth=seed_depth,
                                        seed_stages=seed_stages, seed_block=seed_block,
                                        stem_channels=stem_channels))
        self.block = self.space.block
        self.seed = seed
        self.seed_depth = seed_depth
        self.stem_channels = stem_channels
        self._set_outputs(out_indices, len(self.space.stages), frozen_stages, norm_eval)

        self.conv1 = nn.Conv2d(3, stem_channels, 7, 2, 3, bias=False)
        self.bn1 = batch_norm(stem_channels, norm_cfg)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_widths: List[int] = [stem_channels]
        for s, st in enumerate(self.space.stages, 1):
            max_kernel = max(o['kernel'] for o in st.res_ops)
            blocks = nn.ModuleList()
            for j in range(st.max_depth):
                blocks.append(ElasticResBlock(self.block, in_widths if j == 0 else st.widths,
                                              st.widths, max_kernel,
                                              st.stride if j == 0 else 1, j == 0,
                                              st.plugin_ops, norm_cfg))
            in_widths = list(st.widths)
            self.add_module(f'layer{s}', blocks)
        self._depths: List[int] = []
        self.set_arch(self.space.largest())

    @staticmethod
    def space_of(args: dict) -> ResNetSearchSpace:
        """The search space of constructor arguments (``search_space``, ``seed_depth``,
        ``seed_stages``, ``seed_block``, ``stem_channels``; see :meth:`arguments`)."""
        space = args['search_space']
        return ResNetSearchSpace.from_config(
            space if space is not None else resnet_search_space(args['seed_depth']),
            seed_depth=args['seed_depth'], seed_stages=args['seed_stages'],
            seed_block=args['seed_block'], stem_channels=args['stem_channels'])

    # ------------------------------------------------------------------ sub-nets
    def set_arch(self, arch: Dict) -> None:
        """Selects a sub-net (an arch dict of :attr:`space`; validated)."""
        arch = self.space.validate(arch)
        genes = self.space.encode(arch)
        pos, depths = 0, []
        for s, (st, st_arch) in enumerate(zip(self.space.stages, arch['stages']), 1):
            for j, layer in enumerate(st_arch['layers']):
                getattr(self, f'layer{s}')[j].set_active(st_arch['width'], layer,
                                                         genes[pos + 2 + j])
            depths.append(st_arch['depth'])
            pos += 2 + st.max_depth
        self._depths, self.arch = depths, arch

    def out_channels(self, arch: Optional[Dict] = None) -> Tuple[int, ...]:
        arch = self.space.validate(arch) if arch is not None else self.arch
        return tuple(arch['stages'][i]['width'] for i in self.out_indices)

    def static_state(self) -> StateDict:
        """The active sub-net as its :class:`AdaptedResNet`'s state dict."""
        out = {'conv1.weight': self.conv1.weight.detach().clone(),
               **prefixed('bn1', self.bn1.static_state(self.stem_channels))}
        in_c = self.stem_channels
        for s, stage in enumerate(self.arch['stages'], 1):
            for j in range(stage['depth']):
                out.update(prefixed(f'layer{s}.{j}',
                                    getattr(self, f'layer{s}')[j].static_state(in_c)))
                in_c = stage['width']
        return out

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        outs = []
        for i, depth in enumerate(self._depths):
            for block in getattr(self, f'layer{i + 1}')[:depth]:
                x = block(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    # ------------------------------------------------------------------ seed
    def mapped_state_dict(self) -> Dict[str, Tensor]:
        """The residual blocks and the stem (registered-op choices keep their init)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()
                if '.choices.' not in k}

    def check_seed(self, seed_spec, source: str) -> None:
        fix = ('set the supernet\'s seed_depth (or seed_stages / seed_block / stem_channels) '
               'to the checkpoint\'s architecture')
        kind = seed_spec.family.replace('resnet_', '')
        if kind != self.block:
            raise DetnasInputError(f'seed {source}: a {kind} ResNet, the supernet\'s seed is '
                                   f'{self.block} (seed_depth={self.seed_depth}); {fix}')
        stem = seed_spec.conv('conv1').out_channels
        if stem != self.stem_channels:
            raise DetnasInputError(f'seed {source}: conv1 has {stem} channels, the supernet\'s '
                                   f'stem_channels is {self.stem_channels}; {fix}')
        stages = seed_spec.stages()
        if len(stages) != len(self.space.seed):
            raise DetnasInputError(f'seed {source}: {len(stages)} stages, the supernet\'s seed '
                                   f'has {len(self.space.seed)}; {fix}')
        last = 'conv3' if self.block == 'bottleneck' else 'conv2'
        spatial = 'conv2' if self.block == 'bottleneck' else 'conv1'
        for s, (blocks, seed) in enumerate(zip(stages, self.space.seed), 1):
            if len(blocks) != len(seed['layers']):
                raise DetnasInputError(f'seed {source}: layer{s} has {len(blocks)} blocks, the '
                                       f'supernet\'s seed {len(seed["layers"])}; {fix}')
            for b, layer in zip(blocks, seed['layers']):
                conv = seed_spec.find(b.name, spatial)
                got = (seed_spec.find(b.name, last).out_channels, conv.kernel_size[0],
                       conv.groups)
                want = (seed['width'], layer['kernel'], layer['groups'])
                if got != want:
                    raise DetnasInputError(
                        f'seed {source}: block {b.name} has (width, kernel, groups) = {got}, '
                        f'the supernet\'s seed {want}; {fix}')

    def stem_modules(self) -> List[nn.Module]:
        return [self.conv1, self.bn1]

