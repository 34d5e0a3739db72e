"""Check a latency predictor against measured whole-model latency (Spearman rank correlation)."""
import math
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

from torch import nn

from .measure import Inputs, measure_module_ms, num_threads
from .table import LatencyTable, Signature


def average_ranks(values: Sequence[float]) -> List[float]:
    """Ranks 1..n, tied values sharing the mean of their ranks.

    Args:
        values: the numbers to rank.
    """
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson correlation of average ranks).

    Args:
        a: first sample.
        b: second sample of the same length (>= 2).

    Returns:
        the correlation in [-1, 1], or NaN when either sample is constant.
    """
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f'spearman: need two samples of equal length >= 2, got {len(a)} and '
                         f'{len(b)}.')
    ra, rb = average_ranks(a), average_ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var_a = sum((x - ma)**2 for x in ra)
    var_b = sum((y - mb)**2 for y in rb)
    if var_a == 0 or var_b == 0:
        return math.nan
    return cov / math.sqrt(var_a * var_b)


@dataclass
class LatencyCase:
    """One whole network to check the predictor on.

    Args:
        name: label in the report.
        module: the network.
        inputs: its input tensor (or tuple of tensors).
        signatures: its layers' signatures, as the table knows them.
    """
    name: str
    module: nn.Module
    inputs: Inputs
    signatures: Sequence[Signature]


def check_predictor(table: LatencyTable, cases: Sequence[LatencyCase]) -> Dict[str, Any]:
    """Predicts and measures each network; reports Spearman correlation and per-model values.

    Whole networks are measured on the table's device with its threads, warm-up and
    repeats, so prediction and measurement are comparable.

    Args:
        table: the lookup table (missing signatures are measured if it has a factory).
        cases: the networks.

    Returns:
        dict with ``spearman``, ``key`` (the table environment) and ``models``: one dict
        per case with ``name``, ``predicted_ms`` and ``measured_ms``.
    """
    predicted = [table.predict(case.signatures) for case in cases]
    with num_threads(table.threads):
        measured = [measure_module_ms(case.module, case.inputs, table.device, table.warmup,
                                      table.repeats) for case in cases]
    return dict(spearman=spearman(predicted, measured), key=table.key,
                models=[dict(name=c.name, predicted_ms=p, measured_ms=m)
                        for c, p, m in zip(cases, predicted, measured)])
