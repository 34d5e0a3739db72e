"""What every weight-sharing supernet backbone shares: sub-net selection, the sandwich
rule's samples, seed mapping at init, frozen stages and BN eval mode.

A subclass builds its layers at their largest size, sets ``space`` (a
:class:`~detnas.nas.space.StagedSearchSpace`), ``seed``, ``out_indices``, ``frozen_stages``
and ``norm_eval``, and implements :meth:`set_arch`, :meth:`out_channels`,
:meth:`static_state` (the active sub-net's tensors in the exported backbone's names),
:meth:`stem_modules` (see :class:`~detnas.models.backbones.stage_freezing.StageFreezingMixin`)
and the seed hooks :meth:`check_seed` / :attr:`seed_family` / :attr:`extra_output_convs`
that :func:`.seed_init.map_seed_into_supernet` uses.
"""
import contextlib
import copy
import inspect
import random
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.model import BaseModule
from torch import Tensor

from detnas.models.backbones.stage_freezing import StageFreezingMixin, default_init_cfg
from detnas.utils.errors import DetnasInputError
from .layers import StateDict
from .seed_init import map_seed_into_supernet


class ElasticBackbone(StageFreezingMixin, BaseModule):
    """Base class of the supernet backbones (see the module docstring).

    Attributes:
        seed_family: the mapping family of its seeds (``'mobilenet_v2'``, ``'resnet'``).
        extra_output_convs: outputs after the last stage, name -> the conv writing them
            (MobileNetV2's ``conv2``).
    """
    seed_family: str = ''
    extra_output_convs: Dict[str, str] = {}

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg if init_cfg is not None else default_init_cfg())
        self.arch: Dict = {}
        self._seed_order: Dict[str, Tensor] = {}

    def _set_outputs(self, out_indices: Sequence[int], num_outputs: int, frozen_stages: int,
                     norm_eval: bool) -> None:
        """Validates and sets ``out_indices`` (in ``0..num_outputs-1``), ``frozen_stages``
        (in ``-1..num_stages``) and ``norm_eval``."""
        name = type(self).__name__
        for index in out_indices:
            if index not in range(num_outputs):
                raise DetnasInputError(f'{name}.out_indices must be in 0..{num_outputs - 1}, '
                                       f'got {index}')
        num_stages = len(self.space.stages)
        if frozen_stages not in range(-1, num_stages + 1):
            raise DetnasInputError(f'{name}.frozen_stages must be in -1..{num_stages}, got '
                                   f'{frozen_stages}')
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

    @classmethod
    def arguments(cls, cfg: dict) -> dict:
        """Every constructor argument of a backbone config of this class (``type`` dropped,
        defaults filled in): the one place a supernet's defaults are written is its
        ``__init__``.

        Raises:
            DetnasInputError: the config has a key the constructor does not take.
        """
        params = inspect.signature(cls.__init__).parameters
        kwargs = {k: v for k, v in dict(cfg).items() if k != 'type'}
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise DetnasInputError(f'model.backbone ({cls.__name__}): unknown key(s) '
                                   f'{unknown}; allowed: {sorted(set(params) - {"self"})}')
        return {name: copy.deepcopy(kwargs.get(name, p.default))
                for name, p in params.items() if name != 'self'}

    @staticmethod
    def space_of(args: dict):
        """The search space of constructor arguments (see :meth:`arguments`)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ sub-nets
    def set_arch(self, arch: Dict) -> None:
        """Selects a sub-net (an arch dict of :attr:`space`; validated)."""
        raise NotImplementedError

    def out_channels(self, arch: Optional[Dict] = None) -> Tuple[int, ...]:
        """Active channels of each output (of ``arch``, default the active one)."""
        raise NotImplementedError

    def static_state(self) -> StateDict:
        """The active sub-net as the state dict of its exported (fixed) backbone: every
        elastic layer gives its active slice, the skipped blocks are left out and the
        others renumbered."""
        raise NotImplementedError

    @contextlib.contextmanager
    def arch_context(self, arch: Dict) -> Iterator['ElasticBackbone']:
        """``with supernet.arch_context(arch): ...`` selects ``arch``, then restores."""
        previous = copy.deepcopy(self.arch)
        self.set_arch(arch)
        try:
            yield self
        finally:
            self.set_arch(previous)

    def sample_sandwich(self, rng: random.Random, n_random: int = 2) -> List[Dict]:
        """The sandwich rule's archs for one step: ``[largest, smallest, n_random random]``.

        Args:
            rng: the caller's ``random.Random`` (deterministic sampling).
            n_random: number of random archs.
        """
        return ([self.space.largest(), self.space.smallest()]
                + [self.space.sample(rng) for _ in range(n_random)])

    @property
    def max_out_channels(self) -> Tuple[int, ...]:
        """Channels of each output of the largest sub-net (a neck's ``in_channels``)."""
        return self.out_channels(self.space.largest())

    # ------------------------------------------------------------------ seed
    def check_seed(self, seed_spec, source: str) -> None:
        """Raises :class:`~detnas.utils.errors.DetnasInputError` when a seed checkpoint's
        spec is not the architecture the supernet's seed arguments describe."""
        raise NotImplementedError

    def mapped_state_dict(self) -> Dict[str, Tensor]:
        """The tensors the seed is mapped into (default: all of them)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def init_weights(self) -> None:
        """Default init, then (with ``seed``) the seed mapped in."""
        super().init_weights()
        if self.seed is not None:
            self.load_seed(self.seed)

    def load_seed(self, seed) -> 'object':
        """Maps a seed checkpoint into the supernet
        (:func:`~.seed_init.map_seed_into_supernet`).

        Args:
            seed: ``detnas://`` alias, path, state dict or module of the seed backbone.

        Returns:
            the mapping report (:class:`~detnas.nas.mapping.MappingReport`).

        Raises:
            DetnasInputError: the checkpoint's architecture is not the supernet's seed.
        """
        state, order, report = map_seed_into_supernet(self, seed)
        self.load_state_dict(state)
        self._seed_order = order
        return report

    def seed_channel_order(self) -> Tuple[Tensor, ...]:
        """For each output of the active sub-net, the seed channel behind each of its
        channels (-1: an added channel); with the seed arch active,
        ``supernet_out[i] == seed_out[i][:, order[i]]``. Empty before :meth:`load_seed`."""
        if not self._seed_order:
            return ()
        names = [f'stage{s}' for s in range(1, len(self.space.stages) + 1)]
        names += list(self.extra_output_convs)
        return tuple(self._seed_order[names[i]][:c]
                     for i, c in zip(self.out_indices, self.out_channels()))
