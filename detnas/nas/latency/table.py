"""Per-layer latency lookup table: measure each unique layer signature once, predict by sum.

A *signature* is a hashable tuple describing one layer and its input shape, e.g.
``('conv_bn_relu', c_in, c_out, kernel, stride, height, width)``; strings, numbers, bools,
None and nested tuples are allowed. A *factory* turns a signature into ``(module, inputs)``
so the layer can be built and timed alone. A network's predicted latency is the sum of its
layers' entries (a layer appearing twice counts twice).

Missing signatures: a table with a factory measures them on demand (and keeps them); a table
without one raises :class:`LatencyTableError` naming the signature.

Files hold one table per environment (device name + torch version + CPU threads), so tables
of several machines can share a file; ``save`` merges into an existing file.
"""
import json
import os.path as osp
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

import torch
from torch import nn

from detnas.utils.errors import DetnasInputError
from detnas.utils.io import atomic_write_json
from .measure import (RUNTIMES, Inputs, as_device, device_name, environment_key,
                      measure_module_ms, num_threads, runtime_version)

Signature = Tuple[Any, ...]
LayerFactory = Callable[[Signature], Tuple[nn.Module, Inputs]]
FILE_FORMAT = 'detnas-latency-lut'
FILE_VERSION = 1


class LatencyTableError(DetnasInputError):
    """A signature the table cannot answer, or a table file that cannot be read."""


def _freeze(value: Any) -> Any:
    """JSON lists back to tuples, recursively (signatures are tuples)."""
    return tuple(_freeze(v) for v in value) if isinstance(value, (list, tuple)) else value


class LatencyTable:
    """Milliseconds per layer signature, measured on one device.

    Args:
        factory: builds ``(module, inputs)`` for a signature; needed to measure.
        device: where layers are measured (``'cpu'``, ``'cuda'``, ``'cuda:0'``).
        threads: CPU threads used while measuring (default: the current setting).
        warmup: untimed calls per measurement.
        repeats: timed calls per measurement (the median is kept).
        entries: already known ``{signature: ms}``.
        runtime: what runs the layers (:data:`~detnas.nas.latency.measure.RUNTIMES`).
    """

    def __init__(self, factory: Optional[LayerFactory] = None,
                 device: Union[str, torch.device] = 'cpu', threads: Optional[int] = None,
                 warmup: int = 5, repeats: int = 20,
                 entries: Optional[Dict[Signature, float]] = None, runtime: str = 'torch'):
        if runtime not in RUNTIMES:
            raise LatencyTableError(f'latency runtime {runtime!r}: choose one of {RUNTIMES}')
        self.runtime = runtime
        self.factory = factory
        self.device = as_device(device)
        self.threads = threads or torch.get_num_threads()
        self.warmup = warmup
        self.repeats = repeats
        self.entries: Dict[Signature, float] = {
            _freeze(k): float(v) for k, v in (entries or {}).items()}

    @property
    def key(self) -> str:
        """The environment this table belongs to (device, runtime and version, threads)."""
        return environment_key(self.device, self.threads, self.runtime)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, signature: Signature) -> bool:
        return _freeze(signature) in self.entries

    def measure(self, signatures: Iterable[Signature], force: bool = False) -> int:
        """Measures every unique signature not yet in the table; returns how many.

        Args:
            signatures: layer signatures (duplicates are measured once).
            force: re-measure signatures already in the table.
        """
        todo = []
        for signature in map(_freeze, signatures):
            if (force or signature not in self.entries) and signature not in todo:
                todo.append(signature)
        if todo and self.factory is None:
            raise LatencyTableError(f'latency table: {len(todo)} signatures to measure (first '
                                    f'{todo[0]!r}) but the table has no layer factory; build '
                                    'it with factory=... .')
        with num_threads(self.threads):
            for signature in todo:
                module, inputs = self.factory(signature)
                self.entries[signature] = measure_module_ms(module, inputs, self.device,
                                                            self.warmup, self.repeats,
                                                            self.runtime)
        return len(todo)

    def lookup(self, signature: Signature) -> float:
        """Latency of one layer in ms, measured now if missing and a factory is set.

        Args:
            signature: the layer signature.
        """
        signature = _freeze(signature)
        if signature not in self.entries:
            if self.factory is None:
                raise LatencyTableError(f'latency table [{self.key}]: no entry for '
                                        f'{signature!r} and no factory to measure it; '
                                        'measure the table for this search space first.')
            self.measure([signature])
        return self.entries[signature]

    def predict(self, signatures: Iterable[Signature]) -> float:
        """Predicted network latency in ms: the sum over its layers.

        Args:
            signatures: one signature per layer of the network, in any order.
        """
        return sum(self.lookup(s) for s in signatures)

    # -- files ----------------------------------------------------------------------------

    def to_dict(self) -> Dict[str, Any]:
        """JSON-friendly form of this table (one environment)."""
        return dict(device=self.device.type, device_name=device_name(self.device),
                    runtime=runtime_version(self.runtime), threads=self.threads,
                    warmup=self.warmup,
                    repeats=self.repeats,
                    entries=[dict(signature=s, ms=ms) for s, ms in self.entries.items()])

    def save(self, path: str) -> None:
        """Writes this table into ``path``, keeping other environments' tables there.

        Args:
            path: JSON file.
        """
        tables = _read_tables(path) if osp.isfile(path) else {}
        tables[self.key] = self.to_dict()
        atomic_write_json(path, dict(format=FILE_FORMAT, version=FILE_VERSION, tables=tables))

    @classmethod
    def load(cls, path: str, factory: Optional[LayerFactory] = None,
             device: Union[str, torch.device] = 'cpu', threads: Optional[int] = None,
             warmup: int = 5, repeats: int = 20, runtime: str = 'torch') -> 'LatencyTable':
        """The table of the current environment from ``path`` (empty if it has none yet).

        Args:
            path: JSON file written by :meth:`save`.
            factory: layer factory for signatures missing from the file.
            device: the device the table is for.
            threads: CPU threads (default: the current setting).
            warmup: untimed calls for new measurements.
            repeats: timed calls for new measurements.
            runtime: what runs the layers.
        """
        table = cls(factory, device, threads, warmup, repeats, runtime=runtime)
        data = _read_tables(path).get(table.key)
        if data is not None:
            try:
                table.entries = {_freeze(e['signature']): float(e['ms'])
                                 for e in data['entries']}
            except (KeyError, TypeError, ValueError) as exc:
                raise LatencyTableError(f'latency table {path}: malformed entries for '
                                        f'[{table.key}] ({exc}); delete the file to '
                                        're-measure.') from None
        return table


def _read_tables(path: str) -> Dict[str, Any]:
    if not osp.isfile(path):
        raise LatencyTableError(f'latency table {path} does not exist.')
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatencyTableError(f'latency table {path} is corrupt ({exc}); delete it to '
                                're-measure.') from None
    if not isinstance(data, dict) or data.get('format') != FILE_FORMAT or not isinstance(
            data.get('tables'), dict):
        raise LatencyTableError(f'latency table {path} is not a {FILE_FORMAT} file; delete it '
                                'or choose another path.')
    return data['tables']
