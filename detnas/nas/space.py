"""The generic backbone search space: stages of blocks, each stage with width and depth
choices and per-layer op choices, encoded as integer genes; archs saved as a small yaml.

A family (:mod:`detnas.nas.families`) subclasses :class:`StagedSearchSpace`: it parses its
config's stage entries (one per seed stage, e.g. ``dict(widths=[...], depth=(min, max),
...)``) into stage objects and gives the seed's layers; everything else (genes, decoding,
validation, the largest / smallest / seed archs, sampling, fingerprints) lives here.

An architecture (*arch*) is a dict ``{'stages': [{'width': W, 'depth': D, 'layers': [L, ...]},
...]}`` with ``D`` layer dicts per stage (``{'op': NAME, ...options}``). Its *genes* are a
fixed-length list of integers, per stage ``[width, depth, op of layer 0, ..., op of layer
max_depth-1]`` (indices into the choices, see :attr:`StagedSearchSpace.gene_choices`); op
genes past the active depth are ignored (decode then encode sets them to 0). Archs are saved
as a small yaml (mmrazor's "subnet yaml").
"""
import json
import os
import os.path as osp
import random
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from detnas.utils.errors import DetnasInputError
from detnas.utils.io import read_data_file

Arch = Dict[str, Any]


def stage_key(stage: int, key: Optional[str] = None) -> str:
    """The config key of a stage entry (``search_space.stages[2].widths``), for messages."""
    return f'search_space.stages[{stage}]' + (f'.{key}' if key else '')


def parse_choices(value, key: str, stage: int, kind=int) -> Tuple:
    """A stage's choice list validated (non-empty, positive, no repeats) and sorted.

    Args:
        value: the config value.
        key: its key in the stage entry (for messages).
        stage: the stage index (for messages).
        kind: ``int``, or ``float`` for numbers.
    """
    where = stage_key(stage, key)
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
        raise DetnasInputError(f'{stage_key(index)} must be a dict with keys {list(allowed)}, '
                               f'got {cfg!r}')
    unknown = sorted(set(cfg) - set(allowed))
    if unknown:
        raise DetnasInputError(f'{stage_key(index)}: unknown key(s) {unknown}; allowed keys '
                               f'are {list(allowed)}' + (f' ({family} space)' if family else ''))
    for key in required:
        if key not in cfg:
            raise DetnasInputError(f'{stage_key(index, key)} is missing')


def depth_choices(depth, index: int) -> Tuple[int, ...]:
    """The depths of a stage's ``depth=(min, max)`` entry (``index``: the stage, for
    messages)."""
    if (not isinstance(depth, (list, tuple)) or len(depth) != 2
            or not all(isinstance(d, int) and not isinstance(d, bool) for d in depth)
            or not 1 <= depth[0] <= depth[1]):
        raise DetnasInputError(f'{stage_key(index, "depth")} must be (min, max) with '
                               f'1 <= min <= max, got {depth!r}')
    return tuple(range(depth[0], depth[1] + 1))


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
                                     stage_key(i, 'widths')))
            genes.append(self._index(st.depths, s['depth'], f'{where}.depth',
                                     stage_key(i, 'depth')))
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
                                         f'{where}.layers[{j}]', stage_key(i)))
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


# ---------------------------------------------------------------- subnet yaml
def dump_arch_yaml(arch: Arch, path: str) -> None:
    """Writes an arch as a small yaml (``stages: [{width, depth, layers: [...]}, ...]``)."""
    import yaml
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    plain = json.loads(json.dumps(arch))  # tuples -> lists, plain types only
    with open(path, 'w') as f:
        yaml.safe_dump(plain, f, sort_keys=False, default_flow_style=None)


def load_arch_yaml(path: str, space: Optional['StagedSearchSpace'] = None) -> Arch:
    """Reads an arch yaml; validates it against ``space`` when given.

    Raises:
        DetnasInputError: the file is missing, is not yaml, or its arch is not in the space.
    """
    arch = read_data_file(path, 'arch file')
    if not isinstance(arch, dict) or 'stages' not in arch:
        raise DetnasInputError(f'arch file {path!r} must hold a mapping with a "stages" list')
    if space is not None:
        try:
            arch = space.validate(arch)
        except DetnasInputError as e:
            raise DetnasInputError(f'arch file {path!r}: {e}') from None
    return arch
