"""The GFPN (generalised FPN, GiraffeDet) fusion graph as plain data.

The neck is a graph, not a fixed stack of layers, so it is described declaratively by a
:class:`GFPNGraphSpec` (number of levels and layers, which skip-layer rule, whether queen
fusion is on) and expanded by :func:`build_gfpn_graph` into :class:`GFPNGraph`: a list of
nodes in execution order and a list of typed edges. :class:`~detnas.models.necks.GFPN`
builds one fusion module per node from it and ``tools/analysis/draw_gfpn.py`` draws the
same object, so the picture is always the network that runs.

Nodes are addressed by ``(layer, level)``:

* layer ``-1`` holds the backbone features (one per level, no module);
* layers ``0 .. num_layers - 1`` are fusion layers; even layers run top-down (coarsest
  level first), odd layers bottom-up (finest level first);
* layer ``num_layers`` holds one output node per level, fed by the last fusion layer.

Edge kinds, in the order a node concatenates its inputs (the official GiraffeDet order):

* ``'input'``: backbone feature of the same level (layer 0 only);
* ``'skip'``: the same level in earlier layers, oldest first. ``'log2n'`` takes layers
  ``k-1, k-2, k-4, k-8, ...``; ``'dense'`` all earlier layers; ``'chain'`` only ``k-1``;
* ``'path'``: the neighbour finished just before in the same layer (the level above in a
  top-down layer, the level below in a bottom-up one); the first node of a layer has none;
* ``'queen_coarse'``: the previous layer one level coarser (resampled up);
* ``'queen_fine'``: the previous layer one level finer (resampled down);
* ``'output'``: the last fusion layer's node of the same level into the output node.

Layer counts follow the official code: depth multiplier ``d`` gives ``2 * d - 1`` fusion
layers (D7: 13, D11: 21).
"""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

SKIP_TYPES = ('log2n', 'dense', 'chain')
EDGE_KINDS = ('input', 'skip', 'path', 'queen_coarse', 'queen_fine', 'output')


@dataclass(frozen=True)
class GFPNGraphSpec:
    """Declarative description of a GFPN graph.

    Args:
        num_levels: number of pyramid levels (P3-P7 is 5). At least 2.
        num_layers: number of fusion layers, alternating top-down / bottom-up. At least 1.
        skip_type: skip-layer rule, one of ``'log2n'`` (official), ``'dense'``, ``'chain'``.
        queen_fusion: add the two diagonal edges from the previous layer (official: on).
    """
    num_levels: int = 5
    num_layers: int = 13
    skip_type: str = 'log2n'
    queen_fusion: bool = True

    def __post_init__(self):
        if not isinstance(self.num_levels, int) or self.num_levels < 2:
            raise ValueError(
                f'num_levels must be an int >= 2 (a GFPN fuses across levels), got '
                f'{self.num_levels!r}')
        if not isinstance(self.num_layers, int) or self.num_layers < 1:
            raise ValueError(f'num_layers must be an int >= 1, got {self.num_layers!r}')
        if self.skip_type not in SKIP_TYPES:
            raise ValueError(f'skip_type must be one of {SKIP_TYPES}, got {self.skip_type!r}')

    @classmethod
    def from_depth_multiplier(cls, depth_multiplier: int, **kwargs) -> 'GFPNGraphSpec':
        """Spec with ``2 * depth_multiplier - 1`` layers, the official family rule.

        Args:
            depth_multiplier: 7 for GiraffeDet-D7, 11 for D11, ...
            **kwargs: other :class:`GFPNGraphSpec` fields.
        """
        if not isinstance(depth_multiplier, int) or depth_multiplier < 1:
            raise ValueError(
                f'depth_multiplier must be an int >= 1, got {depth_multiplier!r}')
        return cls(num_layers=2 * depth_multiplier - 1, **kwargs)


@dataclass(frozen=True)
class GFPNNode:
    """One node: ``index`` is its position in execution order (backbone inputs first)."""
    index: int
    layer: int
    level: int

    @property
    def kind(self) -> str:
        """``'input'``, ``'top_down'``, ``'bottom_up'`` or ``'output'``."""
        if self.layer < 0:
            return 'input'
        return 'top_down' if self.layer % 2 == 0 else 'bottom_up'


@dataclass(frozen=True)
class GFPNEdge:
    """A directed edge ``src -> dst`` (node indices) of a given kind (see module doc)."""
    src: int
    dst: int
    kind: str


@dataclass
class GFPNGraph:
    """Expanded graph: nodes in execution order and edges grouped by destination.

    Args:
        spec: the description it was built from.
        nodes: all nodes, backbone inputs first, outputs last.
        edges: all edges; a node's in-edges appear in its concatenation order.
    """
    spec: GFPNGraphSpec
    nodes: List[GFPNNode] = field(default_factory=list)
    edges: List[GFPNEdge] = field(default_factory=list)

    def __post_init__(self):
        self._by_pos: Dict[Tuple[int, int], GFPNNode] = {
            (n.layer, n.level): n for n in self.nodes}

    @property
    def num_levels(self) -> int:
        return self.spec.num_levels

    @property
    def num_layers(self) -> int:
        return self.spec.num_layers

    def node(self, layer: int, level: int) -> GFPNNode:
        """The node at ``(layer, level)``; layer -1 is the backbone, ``num_layers`` output."""
        try:
            return self._by_pos[(layer, level)]
        except KeyError:
            raise KeyError(f'no GFPN node at layer={layer}, level={level} (layers -1..'
                           f'{self.num_layers}, levels 0..{self.num_levels - 1})') from None

    def in_edges(self, node: GFPNNode) -> List[GFPNEdge]:
        """Edges into ``node`` in concatenation order."""
        return [e for e in self.edges if e.dst == node.index]

    @property
    def input_nodes(self) -> List[GFPNNode]:
        return [n for n in self.nodes if n.layer < 0]

    @property
    def fusion_nodes(self) -> List[GFPNNode]:
        """Every node that owns a module (fusion layers and outputs), in execution order."""
        return [n for n in self.nodes if n.layer >= 0]

    @property
    def output_nodes(self) -> List[GFPNNode]:
        """Output nodes ordered finest level first."""
        return sorted((n for n in self.nodes if n.layer == self.num_layers),
                      key=lambda n: n.level)


def skip_sources(layer: int, skip_type: str) -> List[int]:
    """Earlier layers whose same-level node feeds ``layer``, oldest first.

    Args:
        layer: index of a fusion layer, >= 1.
        skip_type: ``'log2n'``, ``'dense'`` or ``'chain'``.
    """
    if skip_type == 'dense':
        return list(range(layer))
    if skip_type == 'chain':
        return [layer - 1]
    sources, step = [], 1
    while layer - step >= 0:
        sources.append(layer - step)
        step *= 2
    return sorted(sources)


def _level_order(layer: int, num_levels: int) -> List[int]:
    """Levels in the order a layer visits them (top-down: coarsest first)."""
    levels = list(range(num_levels))
    return levels[::-1] if layer % 2 == 0 else levels


def build_gfpn_graph(spec: GFPNGraphSpec) -> GFPNGraph:
    """Expands a :class:`GFPNGraphSpec` into nodes and edges.

    Args:
        spec: the declarative description.

    Returns:
        The graph; see the module docstring for the node and edge conventions.
    """
    if not isinstance(spec, GFPNGraphSpec):
        raise TypeError(f'spec must be a GFPNGraphSpec, got {type(spec).__name__}')
    num_levels, num_layers = spec.num_levels, spec.num_layers
    nodes: List[GFPNNode] = []
    pos: Dict[Tuple[int, int], int] = {}

    def add_node(layer: int, level: int) -> int:
        node = GFPNNode(len(nodes), layer, level)
        nodes.append(node)
        pos[(layer, level)] = node.index
        return node.index

    edges: List[GFPNEdge] = []
    for level in range(num_levels):
        add_node(-1, level)

    for layer in range(num_layers):
        order = _level_order(layer, num_levels)
        for i, level in enumerate(order):
            dst = add_node(layer, level)
            sources: List[Tuple[int, str]] = []
            if layer == 0:
                sources.append((pos[(-1, level)], 'input'))
            else:
                sources += [(pos[(k, level)], 'skip')
                            for k in skip_sources(layer, spec.skip_type)]
            if i > 0:
                sources.append((pos[(layer, order[i - 1])], 'path'))
            if spec.queen_fusion:
                if level + 1 < num_levels:
                    sources.append((pos[(layer - 1, level + 1)], 'queen_coarse'))
                if level > 0:
                    sources.append((pos[(layer - 1, level - 1)], 'queen_fine'))
            seen = set()
            for src, kind in sources:
                if src not in seen:
                    seen.add(src)
                    edges.append(GFPNEdge(src, dst, kind))

    for level in range(num_levels):
        dst = add_node(num_layers, level)
        edges.append(GFPNEdge(pos[(num_layers - 1, level)], dst, 'output'))
    return GFPNGraph(spec=spec, nodes=nodes, edges=edges)
