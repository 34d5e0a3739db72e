"""Check a latency predictor against measured whole-model latency (Spearman rank correlation)."""
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

from torch import nn

from detnas.utils.ranks import spearman
from .measure import Inputs, measure_module_ms, num_threads
from .table import LatencyTable, Signature


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

    Whole networks are measured on the table's device and runtime with its threads, warm-up
    and repeats, so prediction and measurement are comparable.

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
                                      table.repeats, table.runtime) for case in cases]
    return dict(spearman=spearman(predicted, measured), key=table.key,
                models=[dict(name=c.name, predicted_ms=p, measured_ms=m)
                        for c, p, m in zip(cases, predicted, measured)])
