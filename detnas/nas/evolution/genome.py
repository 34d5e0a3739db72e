"""The encoding of a candidate: one integer gene per decision, plus its variation operators.

A candidate is a plain ``tuple`` of ints (immutable, hashable, JSON-friendly as a list). Gene
``i`` takes values ``0 .. choices[i] - 1``; what a value means (a width, a kernel, an op) is
the search space's business, not this module's. All randomness goes through the
``random.Random`` passed in, so a run is reproducible from its seed.
"""
import random
from typing import Callable, Optional, Sequence, Tuple

from detnas.utils.errors import DetnasInputError

Candidate = Tuple[int, ...]


class Genome:
    """Per-gene choice counts and the sampling, mutation and crossover operators.

    Args:
        choices: number of options of each gene (every entry >= 1).
        names: optional gene names, used in error messages.
        canonicalize: optional map to a canonical encoding, applied to every produced
            candidate, so encodings that describe the same network (e.g. op genes of layers
            beyond the sampled depth) share one cache entry.
    """

    def __init__(self, choices: Sequence[int], names: Optional[Sequence[str]] = None,
                 canonicalize: Optional[Callable[[Candidate], Candidate]] = None):
        self.choices = tuple(int(c) for c in choices)
        if not self.choices:
            raise DetnasInputError('Genome: the search space has no genes; give at least one '
                                   'decision with two or more choices.')
        self.names = tuple(names) if names is not None else tuple(
            f'gene{i}' for i in range(len(self.choices)))
        if len(self.names) != len(self.choices):
            raise DetnasInputError(f'Genome: {len(self.names)} names for '
                                   f'{len(self.choices)} genes.')
        for name, count in zip(self.names, self.choices):
            if count < 1:
                raise DetnasInputError(f'Genome: gene {name!r} has {count} choices; '
                                       'every decision needs at least one.')
        self.canonicalize = canonicalize

    def __len__(self) -> int:
        return len(self.choices)

    @property
    def size(self) -> int:
        """Number of distinct encodings (before canonicalisation)."""
        total = 1
        for count in self.choices:
            total *= count
        return total

    def canonical(self, genes: Sequence[int]) -> Candidate:
        """The candidate as a tuple of ints, canonicalised when the genome has a map for it.

        Args:
            genes: an encoding.
        """
        candidate = tuple(int(g) for g in genes)
        return self.canonicalize(candidate) if self.canonicalize else candidate

    def validate(self, candidate: Sequence[int]) -> Candidate:
        """Checks length and gene ranges; returns the candidate as a tuple.

        Args:
            candidate: an encoding, e.g. read back from a file.
        """
        if len(candidate) != len(self.choices):
            raise DetnasInputError(f'candidate {list(candidate)} has {len(candidate)} genes; '
                                   f'the search space has {len(self.choices)}.')
        for name, count, gene in zip(self.names, self.choices, candidate):
            if not 0 <= int(gene) < count:
                raise DetnasInputError(f'candidate {list(candidate)}: gene {name!r} = {gene} '
                                       f'is outside 0..{count - 1}.')
        return tuple(int(g) for g in candidate)

    def sample(self, rng: random.Random) -> Candidate:
        """A uniformly random encoding.

        Args:
            rng: the run's random generator.
        """
        return self.canonical(rng.randrange(count) for count in self.choices)

    def mutate(self, candidate: Candidate, rng: random.Random, prob: float) -> Candidate:
        """Resamples each gene with probability ``prob`` to a *different* value.

        Args:
            candidate: the parent encoding.
            rng: the run's random generator.
            prob: per-gene mutation probability.
        """
        genes = list(candidate)
        for i, count in enumerate(self.choices):
            if count > 1 and rng.random() < prob:
                other = rng.randrange(count - 1)
                genes[i] = other if other < genes[i] else other + 1
        return self.canonical(genes)

    def crossover(self, first: Candidate, second: Candidate, rng: random.Random) -> Candidate:
        """Uniform crossover: each gene from either parent with probability 1/2.

        Args:
            first: one parent encoding.
            second: the other parent encoding.
            rng: the run's random generator.
        """
        return self.canonical(a if rng.random() < 0.5 else b for a, b in zip(first, second))
