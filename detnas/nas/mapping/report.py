"""The mapping report: for every target tensor, where it came from and how much of it.

Saved as JSON (:meth:`MappingReport.save_json`) and printed as a table
(:meth:`MappingReport.table`). For each tensor ``copied + synthesized + init == numel``.
"""
import json
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple


@dataclass
class TensorRecord:
    """How one target tensor was filled.

    Args:
        key: target tensor name.
        source: seed tensor it was taken from (None: not mapped).
        rule: ``'+'``-joined rules (``'copy'``, ``'select'``, ``'widen_net2net'``,
            ``'kernel_pad'``, ``'fna_copy'``, ``'identity_block'``, ``'identity_conv'``,
            ``'matched'``, ``'init'``, ...).
        shape: target shape.
        numel: number of entries.
        copied: entries taken from the seed.
        synthesized: entries set by a rule (zero fill, padding, identity).
        init: entries left at their initial value.
    """
    key: str
    source: Optional[str]
    rule: str
    shape: Tuple[int, ...]
    numel: int
    copied: int
    synthesized: int
    init: int

    @property
    def fraction(self) -> float:
        """Fraction of entries copied from the seed."""
        return self.copied / self.numel if self.numel else 0.0


@dataclass
class MappingReport:
    """All records of one mapping run plus its settings.

    Args:
        records: one per floating-point target tensor, in state-dict order.
        seed_numel: floating-point entries in the seed's mapped part.
        seed_used: seed entries that reached the target at least once.
        meta: run settings and facts (mode, rules, families, similarity, ...).
        channel_maps: per mapped target conv, ``{'source': seed conv, 'out_index': seed
            channel of each target output channel (-1: new)}`` (within-family runs; the
            data-aware refit, :func:`~.refit.refit_pointwise`, reads it).
    """
    records: List[TensorRecord] = field(default_factory=list)
    seed_numel: int = 0
    seed_used: int = 0
    meta: Dict[str, Any] = field(default_factory=dict)
    channel_maps: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def add(self, key: str, source: Optional[str], tags: List[str], shape, copied: int,
            synthesized: int, init: int) -> TensorRecord:
        numel = 1
        for s in shape:
            numel *= int(s)
        if copied + synthesized + init != numel:
            raise RuntimeError(f'bookkeeping error for {key}: {copied}+{synthesized}+{init} '
                               f'!= {numel}')
        rule = '+'.join(dict.fromkeys(tags)) or ('copy' if source else 'init')
        record = TensorRecord(key, source, rule, tuple(int(s) for s in shape), numel, copied,
                              synthesized, init)
        self.records.append(record)
        return record

    def totals(self) -> Dict[str, Any]:
        """Counts over all tensors, and how many tensors each rule touched."""
        numel = sum(r.numel for r in self.records)
        copied = sum(r.copied for r in self.records)
        rules: Dict[str, int] = {}
        for r in self.records:
            for tag in r.rule.split('+'):
                rules[tag] = rules.get(tag, 0) + 1
        return dict(
            tensors=len(self.records),
            mapped_tensors=sum(r.source is not None for r in self.records),
            numel=numel, copied=copied,
            synthesized=sum(r.synthesized for r in self.records),
            init=sum(r.init for r in self.records),
            copied_fraction=copied / numel if numel else 0.0,
            seed_numel=self.seed_numel, seed_used=self.seed_used,
            seed_used_fraction=self.seed_used / self.seed_numel if self.seed_numel else 0.0,
            rules=dict(sorted(rules.items())))

    def to_dict(self) -> Dict[str, Any]:
        return dict(meta=self.meta, totals=self.totals(),
                    tensors=[dict(asdict(r), fraction=r.fraction) for r in self.records],
                    channel_maps=self.channel_maps)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> 'MappingReport':
        """The report :meth:`to_dict` wrote (e.g. read back from :meth:`save_json`'s file).

        Args:
            data: the dict, with ``meta``, ``totals``, ``tensors`` and ``channel_maps``.
        """
        records = [TensorRecord(**{k: v for k, v in t.items() if k != 'fraction'})
                   for t in data['tensors']]
        for r in records:
            r.shape = tuple(r.shape)
        totals = data['totals']
        return cls(records, totals['seed_numel'], totals['seed_used'], dict(data['meta']),
                   dict(data.get('channel_maps', {})))

    def save_json(self, path: str) -> None:
        """Writes :meth:`to_dict` to ``path`` (folders are created)."""
        if osp.dirname(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(self.to_dict(), f, indent=1)

    def table(self, limit: Optional[int] = None) -> str:
        """A plain-text table, one row per tensor (``limit`` rows at most), then totals."""
        rows = [('target tensor', 'shape', 'source', 'rule', 'copied')]
        shown = self.records if limit is None else self.records[:limit]
        for r in shown:
            rows.append((r.key, 'x'.join(map(str, r.shape)) or '1', r.source or '-', r.rule,
                         f'{100 * r.fraction:.1f}%'))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        lines = ['  '.join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
        lines.insert(1, '  '.join('-' * w for w in widths))
        if limit is not None and len(self.records) > limit:
            lines.append(f'... {len(self.records) - limit} more tensors')
        lines.append(self.summary())
        return '\n'.join(lines)

    def summary(self) -> str:
        """Totals in two lines."""
        t = self.totals()
        sim = self.meta.get('similarity')
        return (f"tensors {t['mapped_tensors']}/{t['tensors']} mapped; entries copied "
                f"{t['copied']}/{t['numel']} ({100 * t['copied_fraction']:.1f}%), synthesized "
                f"{t['synthesized']}, init {t['init']}; seed entries used {t['seed_used']}/"
                f"{t['seed_numel']} ({100 * t['seed_used_fraction']:.1f}%)"
                + (f'; similarity {sim:.3f}' if sim is not None else '')
                + f"\nrules: {t['rules']}")
