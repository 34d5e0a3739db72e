"""Hard constraints on a candidate's metrics (e.g. ``flops <= seed's``) and their violation.

A violation is 0 when the constraint holds, else the relative excess
``|value - limit| / max(|limit|, tiny)``, so constraints in different units (FLOPs, ms,
params) add up to one comparable total for Deb's constraint-domination rule.
"""
import operator
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

from detnas.utils.errors import DetnasInputError

_OPS = {'<=': operator.le, '>=': operator.ge}


@dataclass(frozen=True)
class Constraint:
    """``metric <op> limit`` where ``op`` is ``'<='`` or ``'>='``.

    Args:
        key: metric name (looked up in a candidate's metrics) and the constraint's name.
        limit: the bound.
        op: ``'<='`` (upper bound, default) or ``'>='`` (lower bound).
        value_fn: optional callable computing the value from the metrics dict instead of
            reading ``metrics[key]`` (e.g. ``lambda m: m['flops'] + m['neck_flops']``).
    """
    key: str
    limit: float
    op: str = '<='
    value_fn: Optional[Callable[[Mapping[str, float]], float]] = None

    def __post_init__(self):
        if self.op not in _OPS:
            raise DetnasInputError(f'constraint {self.key!r}: operator {self.op!r} is not '
                                   f'one of {sorted(_OPS)}.')

    @classmethod
    def parse(cls, text: str) -> 'Constraint':
        """Builds a constraint from text such as ``'flops<=3.2e8'`` (for CLI options).

        Args:
            text: ``KEY<=NUMBER`` or ``KEY>=NUMBER``.
        """
        match = re.fullmatch(r'\s*([\w.]+)\s*(<=|>=)\s*([-+0-9.eE]+)\s*', text)
        if not match:
            raise DetnasInputError(f'constraint {text!r}: write it as KEY<=NUMBER or '
                                   'KEY>=NUMBER, e.g. flops<=3.2e8.')
        try:
            limit = float(match.group(3))
        except ValueError:
            raise DetnasInputError(f'constraint {text!r}: {match.group(3)!r} is not a '
                                   'number.') from None
        return cls(match.group(1), limit, match.group(2))

    def value(self, metrics: Mapping[str, float]) -> float:
        """The constrained quantity of one candidate.

        Args:
            metrics: the candidate's metrics.
        """
        if self.value_fn is not None:
            return float(self.value_fn(metrics))
        if self.key not in metrics:
            raise DetnasInputError(f'constraint {self.describe()}: the candidate metrics have '
                                   f'no {self.key!r} (they have {sorted(metrics)}); the cost '
                                   'function must report every constrained metric.')
        return float(metrics[self.key])

    def violation(self, metrics: Mapping[str, float]) -> float:
        """0 if satisfied, else the excess relative to the limit.

        Args:
            metrics: the candidate's metrics.
        """
        value = self.value(metrics)
        if _OPS[self.op](value, self.limit):
            return 0.0
        return abs(value - self.limit) / max(abs(self.limit), 1e-12)

    def describe(self) -> str:
        """Readable form, e.g. ``flops <= 3.2e+08``."""
        return f'{self.key} {self.op} {self.limit:g}'


def total_violation(constraints: Sequence[Constraint], metrics: Mapping[str, float]) -> float:
    """Sum of the violations of all constraints (0 means feasible).

    Args:
        constraints: the hard constraints.
        metrics: one candidate's metrics.
    """
    return sum(c.violation(metrics) for c in constraints)
