"""GFPN graph construction (detnas.models.necks.gfpn_graph)."""
import pytest

from detnas.models.necks.gfpn_graph import GFPNGraphSpec, build_gfpn_graph


def _official_inputs(num_levels, num_layers):
    """Independent oracle: the GiraffeDet reference code numbers nodes in one flat list
    (backbone levels 0..L-1, then layer k at ids L*(k+1)..L*(k+2)-1, top-down layers
    storing the coarsest level first) and derives each node's inputs from id arithmetic:
    same-level nodes of the log2n-linked layers, the node with id-1, and two diagonal ids
    computed from the previous block. Returns {id: [input ids in order]} for the fusion
    layers, written from that arithmetic rather than from (layer, level) pairs."""
    L = num_levels

    def node_id(layer, level):
        if layer < 0:
            return level
        offset = L - 1 - level if layer % 2 == 0 else level
        return L * (layer + 1) + offset

    inputs = {}
    for layer in range(num_layers):
        for level in range(L):
            nid = node_id(layer, level)
            ins = []
            if layer == 0:
                ins.append(node_id(-1, level))
            else:
                links = sorted(layer - j for j in (1, 2, 4, 8, 16, 32) if layer - j >= 0)
                ins += [node_id(k, level) for k in links]
            if nid - 1 not in ins:
                ins.append(nid - 1)
            block, mod = divmod(nid, L)
            prev = (block - 1) * L
            if block % 2 == 1:  # top-down layer; previous block stores levels ascending
                coarse = -1 if mod == 0 else prev + (L - mod)
                fine = -1 if mod == L - 1 else prev + (L - 2 - mod)
            else:  # bottom-up layer; previous block is top-down (descending)
                coarse = -1 if mod == L - 1 else prev + (L - 2 - mod)
                fine = -1 if mod == 0 else prev + (L - mod)
            for extra in (coarse, fine):
                if extra != -1 and extra not in ins:
                    ins.append(extra)
            inputs[nid] = ins
    return inputs, node_id


@pytest.mark.parametrize('depth_multiplier', [7, 11])
def test_official_family_counts(depth_multiplier):
    graph = build_gfpn_graph(GFPNGraphSpec.from_depth_multiplier(depth_multiplier))
    n_layers = 2 * depth_multiplier - 1
    assert graph.num_layers == n_layers
    # closed form for L levels, n layers, log2n skips, queen fusion:
    # layer 0: L inputs + (L-1) path + 2(L-1) diagonals; layer k >= 1: L * #{2^j <= k}
    # skips + (L-1) path + 2(L-1) diagonals; plus L output edges
    L = 5
    expected = (4 * L - 3) + sum(L * k.bit_length() + 3 * (L - 1)
                                 for k in range(1, n_layers)) + L
    assert len(graph.edges) == expected
    assert len(graph.edges) == {7: 351, 11: 632}[depth_multiplier]
    assert len(graph.fusion_nodes) == {7: 70, 11: 110}[depth_multiplier]
    assert len(graph.nodes) == len(graph.fusion_nodes) + L


@pytest.mark.parametrize('num_levels,num_layers', [(5, 13), (5, 21), (3, 6), (4, 9)])
def test_matches_official_id_arithmetic(num_levels, num_layers):
    graph = build_gfpn_graph(GFPNGraphSpec(num_levels=num_levels, num_layers=num_layers))
    oracle, node_id = _official_inputs(num_levels, num_layers)
    for node in graph.fusion_nodes:
        if node.layer == num_layers:
            continue
        got = [node_id(graph.nodes[e.src].layer, graph.nodes[e.src].level)
               for e in graph.in_edges(node)]
        assert got == oracle[node_id(node.layer, node.level)], (node.layer, node.level)


def test_log2n_and_queen_edges_of_one_node():
    graph = build_gfpn_graph(GFPNGraphSpec.from_depth_multiplier(7))
    node = graph.node(8, 2)  # layer 8 (top-down), P5
    edges = graph.in_edges(node)
    src = [(graph.nodes[e.src].layer, graph.nodes[e.src].level, e.kind) for e in edges]
    assert src == [(0, 2, 'skip'), (4, 2, 'skip'), (6, 2, 'skip'), (7, 2, 'skip'),
                   (8, 3, 'path'), (7, 3, 'queen_coarse'), (7, 1, 'queen_fine')]
    # a bottom-up node at the finest level has no path edge and no finer diagonal
    node = graph.node(5, 0)
    src = [(graph.nodes[e.src].layer, graph.nodes[e.src].level, e.kind)
           for e in graph.in_edges(node)]
    assert src == [(1, 0, 'skip'), (3, 0, 'skip'), (4, 0, 'skip'), (4, 1, 'queen_coarse')]
    # outputs take the last fusion layer, finest first
    outs = graph.output_nodes
    assert [o.level for o in outs] == [0, 1, 2, 3, 4]
    assert [graph.nodes[graph.in_edges(o)[0].src].layer for o in outs] == [12] * 5


def test_skip_types_and_queen_switch():
    dense = build_gfpn_graph(GFPNGraphSpec(num_levels=3, num_layers=6, skip_type='dense'))
    assert [dense.nodes[e.src].layer for e in dense.in_edges(dense.node(5, 1))
            if e.kind == 'skip'] == [0, 1, 2, 3, 4]
    chain = build_gfpn_graph(GFPNGraphSpec(num_levels=3, num_layers=6, skip_type='chain',
                                           queen_fusion=False))
    kinds = {e.kind for e in chain.edges}
    assert kinds == {'input', 'skip', 'path', 'output'}
    assert [chain.nodes[e.src].layer for e in chain.in_edges(chain.node(5, 1))] == [4, 5]


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_levels=1), 'num_levels'),
    (dict(num_layers=0), 'num_layers'),
    (dict(skip_type='fibonacci'), 'skip_type'),
])
def test_bad_specs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GFPNGraphSpec(**kwargs)


def test_node_lookup_error_names_the_range():
    graph = build_gfpn_graph(GFPNGraphSpec(num_levels=3, num_layers=2))
    with pytest.raises(KeyError, match='levels 0..2'):
        graph.node(0, 3)
