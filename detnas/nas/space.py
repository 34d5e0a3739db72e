"""The backbone search space: declared in a config, validated, encoded as integer genes.

A MobileNetV2 space has one entry per seed stage::

    search_space = dict(stages=[
        dict(widths=[16], depth=(1, 1), kernels=[3], expand_ratios=[1]),
        dict(widths=[16, 24, 32], depth=(1, 3), kernels=[3, 5, 7], expand_ratios=[3, 4, 6],
             allow_skip=True),
        ...])

Per stage: ``widths`` (output channels of every block of the stage), ``depth`` (min, max
number of active blocks: the first ``depth`` ones), ``kernels`` (odd depthwise kernel sizes),
``expand_ratios`` (1 only on its own: such a stage has no expansion conv), ``allow_skip``
(layers after the first may be the identity) and ``op`` (the layer op's name in
``detnas.registry.SEARCH_OPS``, default ``'mbconv'``). Strides and dilations are the seed's.

An architecture (*arch*) is a dict ``{'stages': [{'width': W, 'depth': D, 'layers': [L, ...]},
...]}`` with ``D`` layers per stage, each ``{'op': 'mbconv', 'kernel': K, 'expand_ratio': E}``
or ``{'op': 'skip'}``. Its *genes* are a fixed-length list of integers, per stage ``[width,
depth, op of layer 0, ..., op of layer max_depth-1]`` (indices into the choices, see
:attr:`SearchSpace.gene_choices`); op genes past the active depth are ignored (decode then
encode sets them to 0). Archs are saved as a small yaml (mmrazor's "subnet yaml").
"""
import json
import os
import os.path as osp
import random
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from detnas.models.backbones.adapted_mobilenet_v2 import (MOBILENET_V2_ARCH,
                                                         resolve_mobilenet_v2_arch)
from detnas.registry import SEARCH_OPS
from detnas.utils.errors import DetnasInputError
from . import mbconv_ops  # noqa: F401  (registers 'mbconv' and 'skip')
from .mbconv_ops import MBCONV, SKIP

Arch = Dict[str, Any]
STAGE_KEYS = ('widths', 'depth', 'kernels', 'expand_ratios', 'allow_skip', 'op')
SUPPORTED_OPS = (MBCONV, )


@dataclass(frozen=True)
class SeedStage:
    """A seed stage: the fixed structure (stride, dilation) and the seed's own choices.

    Args:
        width: output channels.
        depth: number of blocks.
        kernels: depthwise kernel of each block.
        expand_ratios: expansion ratio of each block.
        stride: stride of the first block.
        dilation: depthwise dilation.
    """
    width: int
    depth: int
    kernels: Tuple[int, ...]
    expand_ratios: Tuple[float, ...]
    stride: int
    dilation: int


def seed_stages(arch_setting: Sequence[Sequence] = MOBILENET_V2_ARCH,
                widen_factor: float = 1.0) -> List[SeedStage]:
    """The seed's stages from an :class:`AdaptedMobileNetV2` arch table.

    Args:
        arch_setting: rows ``[expand_ratio, channels, num_blocks, stride(, kernel,
            dilation)]``.
        widen_factor: the seed's width multiplier.
    """
    layout = resolve_mobilenet_v2_arch(arch_setting, widen_factor=widen_factor)
    out = []
    for row, blocks in zip(arch_setting, layout.stages):
        expand = row[0] if isinstance(row[0], (list, tuple)) else [row[0]] * len(blocks)
        out.append(SeedStage(blocks[-1].out_channels, len(blocks),
                             tuple(b.kernel_size for b in blocks), tuple(expand),
                             blocks[0].stride, blocks[0].dilation))
    return out


@dataclass(frozen=True)
class StageSpace:
    """The validated choices of one stage.

    Args:
        widths: output-channel choices, ascending.
        depths: depth choices, ascending.
        kernels: kernel choices, ascending.
        expand_ratios: expansion choices, ascending.
        allow_skip: whether layers after the first may be skipped.
        op: the layer op's name in ``SEARCH_OPS``.
        stride: stride of the first block (the seed's).
        dilation: depthwise dilation (the seed's).
    """
    widths: Tuple[int, ...]
    depths: Tuple[int, ...]
    kernels: Tuple[int, ...]
    expand_ratios: Tuple[float, ...]
    allow_skip: bool
    op: str
    stride: int
    dilation: int

    @property
    def max_depth(self) -> int:
        return self.depths[-1]

    def layer_choices(self, index: int) -> List[Dict[str, Any]]:
        """The ops layer ``index`` may take (the first layer cannot be skipped)."""
        ops = [dict(op=self.op, kernel=k, expand_ratio=e)
               for k in self.kernels for e in self.expand_ratios]
        if self.allow_skip and index > 0:
            ops.append(dict(op=SKIP))
        return ops

    def canonical(self, layer):
        """A layer dict reduced to the keys its choice is compared by."""
        if isinstance(layer, dict) and layer.get('op') == self.op:
            return dict(op=self.op, kernel=layer.get('kernel'),
                        expand_ratio=layer.get('expand_ratio'))
        return layer

    def largest_layer(self) -> Dict[str, Any]:
        """The layer with the largest kernel and expansion."""
        return dict(op=self.op, kernel=self.kernels[-1], expand_ratio=self.expand_ratios[-1])

    def smallest_layer(self) -> Dict[str, Any]:
        """The layer with the smallest kernel and expansion."""
        return dict(op=self.op, kernel=self.kernels[0], expand_ratio=self.expand_ratios[0])

    def cheapest_layers(self, depth: int) -> List[Dict[str, Any]]:
        """The cheapest ``depth`` layers: the smallest one, then skips where allowed."""
        rest = dict(op=SKIP) if self.allow_skip else self.smallest_layer()
        return [self.smallest_layer()] + [dict(rest) for _ in range(depth - 1)]

    @staticmethod
    def layer_key(layer: Dict[str, Any]):
        """What a layer contributes to an arch fingerprint (None: it builds nothing)."""
        return None if layer['op'] == SKIP else [layer['kernel'], layer['expand_ratio']]


def _where(stage: int, key: Optional[str] = None) -> str:
    return f'search_space.stages[{stage}]' + (f'.{key}' if key else '')


def _choices(value, key: str, stage: int, kind=int) -> Tuple:
    where = _where(stage, key)
    if not isinstance(value, (list, tuple)) or not value:
        raise DetnasInputError(f'{where} must be a non-empty list of choices, got {value!r}')
    for v in value:
        ok = (isinstance(v, int) if kind is int else isinstance(v, (int, float)))
        if isinstance(v, bool) or not ok or v <= 0:
            raise DetnasInputError(f'{where}: every choice must be a positive '
                                   f'{"integer" if kind is int else "number"}, got {v!r}')
    if len(set(value)) != len(value):
        raise DetnasInputError(f'{where} lists a choice twice: {list(value)}')
    return tuple(sorted(value))


def check_stage_keys(cfg, index: int, allowed: Sequence[str], required: Sequence[str],
                     family: str = '') -> None:
    """Raises :class:`DetnasInputError` when a stage entry is not a dict, has a key outside
    ``allowed`` or misses one of ``required`` (``family`` names the space in messages)."""
    if not isinstance(cfg, dict):
        raise DetnasInputError(f'{_where(index)} must be a dict with keys {list(allowed)}, '
                               f'got {cfg!r}')
    unknown = sorted(set(cfg) - set(allowed))
    if unknown:
        raise DetnasInputError(f'{_where(index)}: unknown key(s) {unknown}; allowed keys are '
                               f'{list(allowed)}' + (f' ({family} space)' if family else ''))
    for key in required:
        if key not in cfg:
            raise DetnasInputError(f'{_where(index, key)} is missing')


def depth_choices(depth, index: int) -> Tuple[int, ...]:
    """The depths of a stage's ``depth=(min, max)`` entry (``index``: the stage, for
    messages)."""
    if (not isinstance(depth, (list, tuple)) or len(depth) != 2
            or not all(isinstance(d, int) and not isinstance(d, bool) for d in depth)
            or not 1 <= depth[0] <= depth[1]):
        raise DetnasInputError(f'{_where(index, "depth")} must be (min, max) with '
                               f'1 <= min <= max, got {depth!r}')
    return tuple(range(depth[0], depth[1] + 1))


def parse_stage(cfg: dict, index: int, seed: SeedStage) -> StageSpace:
    """Validates one stage entry of ``search_space.stages``.

    Args:
        cfg: the stage dict.
        index: its position (for messages).
        seed: the seed stage it adapts (gives stride and dilation).

    Raises:
        DetnasInputError: a key is unknown, a choice list is empty, a kernel is even, the
            depth range is malformed or the op is not a registered search op.
    """
    check_stage_keys(cfg, index, STAGE_KEYS, ('widths', 'depth', 'kernels', 'expand_ratios'))
    widths = _choices(cfg['widths'], 'widths', index)
    odd = [w for w in widths if w % 8]
    if odd:
        raise DetnasInputError(f'{_where(index, "widths")}: widths must be multiples of 8 '
                               f'(MobileNetV2 rounds channels to them), got {odd}')
    kernels = _choices(cfg['kernels'], 'kernels', index)
    even = [k for k in kernels if k % 2 == 0]
    if even:
        raise DetnasInputError(f'{_where(index, "kernels")}: kernels must be odd (same '
                               f'padding), got {list(even)}')
    expands = _choices(cfg['expand_ratios'], 'expand_ratios', index, kind=float)
    if 1 in expands and len(expands) > 1:
        raise DetnasInputError(f'{_where(index, "expand_ratios")}: ratio 1 (no expansion '
                               f'conv) cannot be mixed with others, got {list(expands)}')
    depths = depth_choices(cfg['depth'], index)
    allow_skip = cfg.get('allow_skip', False)
    if not isinstance(allow_skip, bool):
        raise DetnasInputError(f'{_where(index, "allow_skip")} must be true or false, got '
                               f'{allow_skip!r}')
    op = cfg.get('op', MBCONV)
    if op not in SEARCH_OPS.module_dict:
        raise DetnasInputError(f'{_where(index, "op")}: unknown op {op!r}; registered search '
                               f'ops: {sorted(SEARCH_OPS.module_dict)}')
    if op not in SUPPORTED_OPS:
        raise DetnasInputError(f'{_where(index, "op")}: op {op!r} is registered but the '
                               f'MobileNetV2 space supports {list(SUPPORTED_OPS)} (plus '
                               'allow_skip) as layer ops')
    return StageSpace(widths, depths, kernels, expands,
                      allow_skip, op, seed.stride, seed.dilation)


class StagedSearchSpace:
    """The family-independent part of a backbone search space: stages of blocks, each stage
    with width and depth choices and per-layer op choices, encoded as integer genes.

    A subclass parses its family's stage entries into objects with ``widths``, ``depths``,
    ``max_depth`` and the layer protocol ``layer_choices(j)``, ``canonical(layer)``,
    ``largest_layer()``, ``smallest_layer()``, ``cheapest_layers(depth)`` and
    ``layer_key(layer)`` (see :class:`StageSpace`), and gives the seed's layers.

    Args:
        stages: the parsed stages.
        require_seed: raise when the seed architecture is not in the space.
    """

    def __init__(self, stages: Sequence, require_seed: bool = True):
        self.stages = list(stages)
        self._genes: List[Tuple[str, int, list]] = []  # (name, stage, choices)
        for i, st in enumerate(self.stages):
            self._genes.append((f'stage{i}.width', i, list(st.widths)))
            self._genes.append((f'stage{i}.depth', i, list(st.depths)))
            for j in range(st.max_depth):
                self._genes.append((f'stage{i}.layer{j}.op', i, st.layer_choices(j)))
        if require_seed:
            self.seed_arch()

    @classmethod
    def from_config(cls, cfg: Union['StagedSearchSpace', dict], **seed) -> 'StagedSearchSpace':
        """Builds a space from ``dict(stages=[...])`` (a space is returned as is).

        Args:
            cfg: the ``search_space`` config dict or a search space.
            **seed: the seed arguments of the class's constructor (MobileNetV2:
                ``seed_arch_setting`` / ``seed_widen_factor`` / ``require_seed``).
        """
        if isinstance(cfg, StagedSearchSpace):
            return cfg
        if not isinstance(cfg, dict) or 'stages' not in cfg:
            raise DetnasInputError(f'search_space must be a dict with a "stages" list, got '
                                   f'{cfg!r}')
        extra = sorted(set(cfg) - {'stages'})
        if extra:
            raise DetnasInputError(f'search_space: unknown key(s) {extra}; only "stages" is '
                                   'allowed')
        return cls(cfg['stages'], **seed)

    def seed_stage_archs(self) -> List[dict]:
        """The seed as arch stages ``{'width', 'depth', 'layers'}`` (before validation)."""
        raise NotImplementedError

    # ---------------------------------------------------------------- genes
    @property
    def gene_choices(self) -> List[int]:
        """Number of choices of each gene (gene ``i`` takes values ``0..n_i-1``)."""
        return [len(c) for _, _, c in self._genes]

    @property
    def gene_names(self) -> List[str]:
        """A readable name per gene (``'stage2.layer1.op'``)."""
        return [n for n, _, _ in self._genes]

    def decode(self, genes: Sequence[int]) -> Arch:
        """Genes -> arch dict (layers past each stage's depth are dropped).

        Raises:
            DetnasInputError: wrong length or a gene out of its range.
        """
        genes = list(genes)
        if len(genes) != len(self._genes):
            raise DetnasInputError(f'an encoding of this space has {len(self._genes)} genes, '
                                   f'got {len(genes)}')
        for g, (name, _, choices) in zip(genes, self._genes):
            if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g < len(choices):
                raise DetnasInputError(f'gene {name} = {g!r} is out of range 0..'
                                       f'{len(choices) - 1}')
        stages, pos = [], 0
        for st in self.stages:
            width, depth = st.widths[genes[pos]], st.depths[genes[pos + 1]]
            ops = genes[pos + 2:pos + 2 + st.max_depth]
            layers = [dict(st.layer_choices(j)[ops[j]]) for j in range(depth)]
            stages.append(dict(width=width, depth=depth, layers=layers))
            pos += 2 + st.max_depth
        return dict(stages=stages)

    def encode(self, arch: Arch) -> List[int]:
        """Arch dict -> genes (unused op genes are 0).

        Raises:
            DetnasInputError: the arch does not lie in the space; the message names the
                stage/layer key and the allowed choices.
        """
        stages = self._arch_stages(arch)
        genes = []
        for i, (st, s) in enumerate(zip(self.stages, stages)):
            where = f'arch.stages[{i}]'
            if not isinstance(s, dict) or not {'width', 'depth', 'layers'} <= set(s):
                raise DetnasInputError(f'{where} must be a dict with width, depth and layers, '
                                       f'got {s!r}')
            genes.append(self._index(st.widths, s['width'], f'{where}.width',
                                     _where(i, 'widths')))
            genes.append(self._index(st.depths, s['depth'], f'{where}.depth',
                                     _where(i, 'depth')))
            layers = s['layers']
            if not isinstance(layers, (list, tuple)) or len(layers) != s['depth']:
                raise DetnasInputError(f'{where}.layers must list depth={s["depth"]} layers, '
                                       f'got {layers!r}')
            for j in range(st.max_depth):
                if j >= len(layers):
                    genes.append(0)
                    continue
                layer = dict(layers[j]) if isinstance(layers[j], dict) else layers[j]
                genes.append(self._index(st.layer_choices(j), st.canonical(layer),
                                         f'{where}.layers[{j}]', _where(i)))
        return genes

    @staticmethod
    def _index(choices, value, where: str, space_key: str) -> int:
        for n, c in enumerate(choices):
            if c == value:
                return n
        raise DetnasInputError(f'{where} = {value!r} is not in the search space '
                               f'({space_key} allows {list(choices)})')

    def _arch_stages(self, arch: Arch) -> list:
        if not isinstance(arch, dict) or not isinstance(arch.get('stages'), (list, tuple)):
            raise DetnasInputError(f'an arch must be a dict with a "stages" list, got {arch!r}')
        if len(arch['stages']) != len(self.stages):
            raise DetnasInputError(f'the arch has {len(arch["stages"])} stages, the space '
                                   f'{len(self.stages)}')
        return list(arch['stages'])

    def validate(self, arch: Arch) -> Arch:
        """The arch in canonical form (raises :class:`DetnasInputError` if not in the space)."""
        return self.decode(self.encode(arch))

    # ---------------------------------------------------------------- named archs
    def seed_arch(self) -> Arch:
        """The seed as an arch of this space.

        Raises:
            DetnasInputError: the seed does not fit; the message names the space key.
        """
        try:
            return self.validate(dict(stages=self.seed_stage_archs()))
        except DetnasInputError as e:
            raise DetnasInputError(f'the seed architecture does not fit the search space: {e}; '
                                   'add the seed\'s choice to the space') from None

    def largest(self) -> Arch:
        """Max width and depth, the largest layer everywhere, no skips."""
        return dict(stages=[
            dict(width=st.widths[-1], depth=st.max_depth,
                 layers=[st.largest_layer() for _ in range(st.max_depth)])
            for st in self.stages])

    def smallest(self) -> Arch:
        """Min width and depth, the smallest layer everywhere, no skips (skips would take
        stages below their declared minimum depth)."""
        return dict(stages=[
            dict(width=st.widths[0], depth=st.depths[0],
                 layers=[st.smallest_layer() for _ in range(st.depths[0])])
            for st in self.stages])

    def cheapest(self) -> Arch:
        """The arch with the fewest FLOPs/params: smallest choices, every skippable layer
        skipped."""
        return self.validate(dict(stages=[
            dict(width=st.widths[0], depth=st.depths[0],
                 layers=st.cheapest_layers(st.depths[0])) for st in self.stages]))

    def sample_genes(self, rng: random.Random) -> List[int]:
        """Uniformly random genes.

        Args:
            rng: a ``random.Random`` (or numpy ``Generator``) owned by the caller.
        """
        if hasattr(rng, 'integers'):  # numpy Generator
            return [int(rng.integers(n)) for n in self.gene_choices]
        return [rng.randrange(n) for n in self.gene_choices]

    def sample(self, rng: random.Random) -> Arch:
        """A uniformly random arch (genes uniform, then decoded)."""
        return self.decode(self.sample_genes(rng))

    def fingerprint(self, arch: Arch) -> str:
        """A key equal for archs that build the same network (skips removed): for caches."""
        arch = self.validate(arch)
        blocks = [[s['width']] + [key for key in map(st.layer_key, s['layers'])
                                  if key is not None]
                  for st, s in zip(self.stages, arch['stages'])]
        return json.dumps(blocks, separators=(',', ':'))


class SearchSpace(StagedSearchSpace):
    """A MobileNetV2 backbone search space around a seed.

    Args:
        stages: one dict per seed stage (see the module docstring).
        seed_arch_setting: the seed's arch table (strides, dilations and the seed arch).
        seed_widen_factor: the seed's width multiplier.
        require_seed: raise when the seed architecture is not in the space.

    Raises:
        DetnasInputError: the config is malformed or (``require_seed``) the seed does not
            fit; the message names the key.
    """

    def __init__(self, stages: Sequence[dict],
                 seed_arch_setting: Sequence[Sequence] = MOBILENET_V2_ARCH,
                 seed_widen_factor: float = 1.0, require_seed: bool = True):
        if not isinstance(stages, (list, tuple)) or not stages:
            raise DetnasInputError('search_space.stages must be a non-empty list with one dict '
                                   f'per seed stage, got {stages!r}')
        self.seed = seed_stages(seed_arch_setting, seed_widen_factor)
        if len(stages) != len(self.seed):
            raise DetnasInputError(f'search_space.stages has {len(stages)} entries but the seed '
                                   f'has {len(self.seed)} stages; give one entry per stage')
        super().__init__([parse_stage(cfg, i, s)
                          for i, (cfg, s) in enumerate(zip(stages, self.seed))], require_seed)

    def seed_stage_archs(self) -> List[dict]:
        return [dict(width=seed.width, depth=seed.depth,
                     layers=[dict(op=st.op, kernel=k, expand_ratio=e)
                             for k, e in zip(seed.kernels, seed.expand_ratios)])
                for st, seed in zip(self.stages, self.seed)]


def effective_layers(stage: dict) -> List[Tuple[int, dict]]:
    """``(layer index, layer)`` of the active, non-skipped layers of an arch stage."""
    return [(j, l) for j, l in enumerate(stage['layers'][:stage['depth']]) if l['op'] != SKIP]


def mobilenet_v2_search_space() -> dict:
    """A default space around the ImageNet MobileNetV2: widths around the seed's, depth
    ±1 (and up to 4), kernels {3,5,7}, expansions {3,4,6}, skips after the first layer."""
    mb = dict(kernels=[3, 5, 7], expand_ratios=[3, 4, 6], allow_skip=True)
    return dict(stages=[
        dict(widths=[16], depth=(1, 1), kernels=[3, 5, 7], expand_ratios=[1]),
        dict(widths=[16, 24, 32], depth=(1, 3), **mb),
        dict(widths=[24, 32, 40], depth=(2, 4), **mb),
        dict(widths=[48, 64, 80], depth=(3, 4), **mb),
        dict(widths=[72, 96, 112], depth=(2, 4), **mb),
        dict(widths=[128, 160, 192], depth=(2, 4), **mb),
        dict(widths=[256, 320], depth=(1, 1), **mb),
    ])


# ---------------------------------------------------------------- subnet yaml
def dump_arch_yaml(arch: Arch, path: str) -> None:
    """Writes an arch as a small yaml (``stages: [{width, depth, layers: [...]}, ...]``)."""
    import yaml
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    plain = json.loads(json.dumps(arch))  # tuples -> lists, plain types only
    with open(path, 'w') as f:
        yaml.safe_dump(plain, f, sort_keys=False, default_flow_style=None)


def load_arch_yaml(path: str, space: Optional[SearchSpace] = None) -> Arch:
    """Reads an arch yaml; validates it against ``space`` when given.

    Raises:
        DetnasInputError: the file is missing, is not yaml, or its arch is not in the space.
    """
    import yaml
    if not osp.isfile(path):
        raise DetnasInputError(f'arch file {path!r} does not exist')
    try:
        with open(path) as f:
            arch = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise DetnasInputError(f'arch file {path!r} is not valid yaml: {e}') from None
    if not isinstance(arch, dict) or 'stages' not in arch:
        raise DetnasInputError(f'arch file {path!r} must hold a mapping with a "stages" list')
    if space is not None:
        try:
            arch = space.validate(arch)
        except DetnasInputError as e:
            raise DetnasInputError(f'arch file {path!r}: {e}') from None
    return arch
