"""Architecture descriptions for weight mapping: convs, their channel spaces and blocks.

An :class:`ArchSpec` is what the mapper needs to know about a backbone: every conv (key,
shape, groups, kernel, dilation), the *channel space* each conv reads and writes, which
convs form a block, and which BN closes a residual branch. Two tensors that share a channel
space must keep the same channels: a conv's output space is the next conv's input space,
a depthwise conv reads and writes one space, and every block of a residual chain writes the
space its input lives in.

Specs are inferred from state dicts (seed checkpoints in mmdet names) or built from modules
and configs (targets) by the builder of the state dict's family: each family's package
(:mod:`detnas.nas.families`) registers a :class:`SpecFamily` with
:func:`register_spec_family`; the mapper itself knows no family.
"""
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import Tensor, nn

from .errors import MappingError

INPUT_SPACE = 'input'


@dataclass(frozen=True)
class ConvNode:
    """One convolution of an architecture.

    Args:
        key: module name of the conv (its weight is ``key + '.weight'``).
        norm: module name of the BN after it, or None.
        in_space: channel space it reads.
        out_space: channel space it writes.
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: (kh, kw).
        groups: conv groups (``in_channels`` for a depthwise conv).
        dilation: conv dilation (1 when unknown).
        block: the block it belongs to (``'layer2.0'``), or None for stem/head convs.
        role: its name inside the block (``'expand_conv.conv'``), or ``key`` outside
            blocks.
        identity_init: when the seed has no such conv (an added expansion conv or shortcut
            projection), it may start as the identity of its channel space.
        bias: whether the conv has a bias.
    """
    key: str
    norm: Optional[str]
    in_space: str
    out_space: str
    in_channels: int
    out_channels: int
    kernel_size: Tuple[int, int]
    groups: int = 1
    dilation: int = 1
    block: Optional[str] = None
    role: str = ''
    identity_init: bool = False
    bias: bool = False

    @property
    def weight_shape(self) -> Tuple[int, ...]:
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels == self.out_channels


@dataclass(frozen=True)
class BlockNode:
    """A block of a stage.

    Args:
        name: module name (``'layer2.0'``).
        stage: 1-based stage index.
        index: 0-based index inside the stage.
        residual: whether its output adds an identity shortcut of its input.
        out_norm: BN closing the residual branch (zeroed for an identity-initialised block).
        linear_out: whether the block's output is its input (when residual) plus
            ``out_norm``'s output, with no activation after the sum (MobileNetV2's linear
            bottleneck; not a ResNet block, which ends in a ReLU).
    """
    name: str
    stage: int
    index: int
    residual: bool
    out_norm: Optional[str]
    linear_out: bool = False


@dataclass(frozen=True)
class LinearNode:
    """A linear classifier on top of the backbone (``fc``), kept apart from the backbone."""
    key: str
    in_space: str
    in_features: int
    out_features: int


@dataclass
class ArchSpec:
    """The mapper's description of a backbone.

    Args:
        family: ``'mobilenet_v2'``, ``'resnet_basic'`` or ``'resnet_bottleneck'`` (or any
            name for hand-built specs); within-family mapping needs equal names.
        convs: convs in forward order.
        blocks: blocks in forward order.
        spaces: channel space -> number of channels.
        head: optional classifier on the last space.
    """
    family: str
    convs: List[ConvNode]
    blocks: List[BlockNode]
    spaces: Dict[str, int]
    head: Optional[LinearNode] = None
    _by_key: Dict[str, ConvNode] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._by_key = {c.key: c for c in self.convs}
        for conv in self.convs:
            for what, space, n in (('input', conv.in_space, conv.in_channels),
                                   ('output', conv.out_space, conv.out_channels)):
                if n <= 0:
                    raise MappingError(f'layer {conv.key!r}: {n} {what} channels; every '
                                       'conv needs at least one channel')
                if self.spaces.get(space) != n:
                    raise MappingError(f'layer {conv.key!r}: {what} space {space!r} has '
                                       f'{self.spaces.get(space)} channels but the conv '
                                       f'has {n}')
            if conv.in_channels % conv.groups or conv.out_channels % conv.groups:
                raise MappingError(f'layer {conv.key!r}: groups={conv.groups} does not divide '
                                   f'{conv.in_channels} input and {conv.out_channels} output '
                                   'channels; use a group count that divides both')

    def conv(self, key: str) -> ConvNode:
        return self._by_key[key]

    def find(self, block: Optional[str], role: str) -> Optional[ConvNode]:
        """The conv with ``role`` in ``block`` (or the non-block conv named ``role``)."""
        key = f'{block}.{role}' if block else role
        conv = self._by_key.get(key)
        return conv if conv is not None and conv.block == block else None

    def stages(self) -> List[List[BlockNode]]:
        """Blocks grouped by stage, in order."""
        out: Dict[int, List[BlockNode]] = {}
        for b in self.blocks:
            out.setdefault(b.stage, []).append(b)
        return [out[s] for s in sorted(out)]

    def stage_output_spaces(self) -> Dict[int, str]:
        """Stage (1-based) -> the channel space its last block writes (the stage's
        output)."""
        out = {}
        for block in self.blocks:  # forward order: the last block of a stage wins
            closing = next(c for c in self.convs if c.block == block.name and
                           c.norm == block.out_norm) if block.out_norm else None
            if closing is not None:
                out[block.stage] = closing.out_space
        return out

    def producers(self, space: str) -> List[ConvNode]:
        """Convs writing ``space`` (residual chains have several)."""
        return [c for c in self.convs if c.out_space == space]

    def check_state_dict(self, sd: Dict[str, Tensor], what: str) -> None:
        """Raises :class:`MappingError` naming the first conv whose weight is missing or
        has another shape than the spec says."""
        for conv in self.convs:
            w = sd.get(conv.key + '.weight')
            if w is None:
                raise MappingError(f'{what}: layer {conv.key!r} has no weight '
                                   f'{conv.key}.weight in the state dict')
            if tuple(w.shape) != conv.weight_shape:
                raise MappingError(f'{what}: layer {conv.key!r} weight has shape '
                                   f'{tuple(w.shape)}, the architecture says '
                                   f'{conv.weight_shape}')

    def describe(self) -> str:
        """One line per stage: depth and widths, for messages and reports."""
        lines = [f'{self.family}: {len(self.convs)} convs, {len(self.blocks)} blocks']
        for s, blocks in enumerate(self.stages(), 1):
            convs = [c for c in self.convs if c.block in {b.name for b in blocks}]
            width = convs[-1].out_channels if convs else 0
            kernels = sorted({c.kernel_size[0] for c in convs if c.kernel_size[0] > 1})
            lines.append(f'  stage {s}: {len(blocks)} blocks, {width} channels, '
                         f'kernels {kernels}')
        return '\n'.join(lines)


def norm_of(sd: Dict[str, Tensor], candidates: List[str]) -> Optional[str]:
    """The first of ``candidates`` that is a norm layer in ``sd`` (running stats or a 1-d
    weight), or None."""
    for name in candidates:
        weight = sd.get(name + '.weight')
        if name + '.running_mean' in sd or weight is not None and weight.dim() == 1:
            return name
    return None


def kernel_of(w: Tensor) -> Tuple[int, int]:
    """(kh, kw) of a conv weight."""
    return int(w.shape[2]), int(w.shape[3])


def blocks_in(sd: Dict[str, Tensor], pattern: str) -> Dict[int, List[int]]:
    """stage -> sorted block indices, from keys matching ``pattern`` (groups: stage, block)."""
    found: Dict[int, set] = {}
    for key in sd:
        m = re.match(pattern, key)
        if m:
            found.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    return {s: sorted(v) for s, v in sorted(found.items())}


def classifier_head(classifier: Optional[Dict[str, Tensor]], space: str, width: int
                    ) -> Optional[LinearNode]:
    """The ``fc`` classifier on the last channel space when its input width fits."""
    if classifier and 'fc.weight' in classifier:
        w = classifier['fc.weight']
        if w.shape[1] == width:
            return LinearNode('fc', space, int(w.shape[1]), int(w.shape[0]))
    return None


@dataclass(frozen=True)
class SpecFamily:
    """How the mapper reads one backbone family's state dicts (registered by the family's
    package under :mod:`detnas.nas.families`).

    Args:
        name: the family's name (``'mobilenet_v2'``); ``infer_spec(family=name)``.
        matches: whether a state dict in mmdet names is of this family (from its keys).
        build: ``(state dict, module meta or None, classifier or None) -> ArchSpec``.
        seed_config: the backbone config that builds a seed of a spec (the reference
            module the refit reproduces), or None when the spec is not a standard seed.
    """
    name: str
    matches: Callable[[Dict[str, Tensor]], bool]
    build: Callable[..., 'ArchSpec']
    seed_config: Callable[['ArchSpec'], Optional[dict]]


SPEC_FAMILIES: Dict[str, SpecFamily] = {}


def register_spec_family(family: SpecFamily) -> SpecFamily:
    """Adds a family to :data:`SPEC_FAMILIES` (by name)."""
    SPEC_FAMILIES[family.name] = family
    return family


def spec_family(spec: 'ArchSpec') -> SpecFamily:
    """The registered family a spec belongs to (``'resnet_basic'`` -> ``'resnet'``)."""
    for family in SPEC_FAMILIES.values():
        if spec.family == family.name or spec.family.startswith(family.name + '_'):
            return family
    raise MappingError(f'no registered family reads {spec.family!r} specs; known: '
                       f'{sorted(SPEC_FAMILIES)}')


def detect_family(sd: Dict[str, Tensor]) -> str:
    """The registered family whose key names the state dict has."""
    for family in SPEC_FAMILIES.values():
        if family.matches(sd):
            return family.name
    raise MappingError('cannot tell the backbone family from the state dict (first keys: '
                       f'{list(sd)[:4]}); expected the mmdet names of one of '
                       f'{sorted(SPEC_FAMILIES)} — convert the checkpoint first, or map it '
                       "with mode='cross_family'")


def infer_spec(sd: Dict[str, Tensor], family: Optional[str] = None,
               meta: Optional[Dict[str, dict]] = None,
               classifier: Optional[Dict[str, Tensor]] = None) -> ArchSpec:
    """Spec of a backbone state dict in mmdet names.

    Args:
        sd: backbone state dict.
        family: ``'mobilenet_v2'`` or ``'resnet'``; detected from the keys if omitted.
        meta: optional module facts (see :func:`module_meta`).
        classifier: optional ``fc.weight``/``fc.bias``.
    """
    family = family or detect_family(sd)
    if family not in SPEC_FAMILIES:
        raise MappingError(f'unknown family {family!r}; known: {sorted(SPEC_FAMILIES)}')
    return SPEC_FAMILIES[family].build(sd, meta, classifier)


def module_meta(module: nn.Module) -> Dict[str, dict]:
    """Facts a state dict does not carry: groups/dilation of every conv, residual flags of
    blocks (modules with ``with_res_shortcut``)."""
    meta: Dict[str, dict] = {}
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d):
            meta[name] = dict(groups=m.groups, dilation=m.dilation[0], stride=m.stride[0])
        if hasattr(m, 'with_res_shortcut'):
            meta[name] = dict(residual=bool(m.with_res_shortcut))
    return meta


def spec_from_module(module: nn.Module, family: Optional[str] = None) -> ArchSpec:
    """Spec of a built backbone (its state dict plus its convs' groups and dilations)."""
    sd = module.state_dict()
    return infer_spec(sd, family, module_meta(module))


def build_backbone(cfg: dict) -> nn.Module:
    """Builds a backbone config (``dict(type='AdaptedMobileNetV2', ...)``) with mmdet's
    registry; raises :class:`MappingError` for a config that is not a dict with ``type``."""
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise MappingError(f'a target backbone config must be a dict with a type, got {cfg!r}')
    import detnas.models  # noqa: F401  (registers AdaptedMobileNetV2)
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = {k: v for k, v in dict(cfg).items() if k != 'init_cfg'}
    return MODELS.build(cfg)


def init_state_dict(module: nn.Module) -> Dict[str, Tensor]:
    """A freshly initialised copy of the module's state dict (``init_weights`` applied)."""
    if hasattr(module, 'init_weights'):
        from detnas.utils.init_weights import init_weights_quietly
        init_weights_quietly(module)
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def identity_weight(n: int) -> Tensor:
    """The 1x1 identity conv on ``n`` channels."""
    return torch.eye(n).view(n, n, 1, 1)
