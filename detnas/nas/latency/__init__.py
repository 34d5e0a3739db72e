"""Latency prediction for search: a per-layer lookup table measured on the target device.

:class:`LatencyTable` measures each unique layer signature once and predicts a network as
the sum of its layers; :func:`check_predictor` reports the Spearman rank correlation of
predicted against measured whole-network latency.
"""
from .measure import device_name, environment_key, measure_module_ms, num_threads
from .table import LatencyTable, LatencyTableError, LayerFactory, Signature
from .validation import LatencyCase, check_predictor

__all__ = [
    'device_name', 'environment_key', 'measure_module_ms', 'num_threads', 'LatencyTable',
    'LatencyTableError', 'LayerFactory', 'Signature', 'LatencyCase', 'check_predictor'
]
