"""Draws a GFPN fusion graph (GiraffeDet neck) as a PNG.

Columns are layers (backbone inputs left, outputs right), rows are pyramid levels (finest
at the bottom); edge colours give the edge kind. The picture is drawn from the same
:class:`~detnas.models.necks.gfpn_graph.GFPNGraph` the neck is built from.

Examples::

    python tools/analysis/draw_gfpn.py --depth-multiplier 7 --out work_dirs/gfpn_d7.png
    python tools/analysis/draw_gfpn.py --config configs/giraffedet/giraffedet_d11_coco.py \
        --out work_dirs/gfpn_d11.png
"""
import argparse
import os
import os.path as osp


from detnas.models.necks.gfpn_graph import GFPNGraph, GFPNGraphSpec, build_gfpn_graph

EDGE_STYLE = {
    # kind: (colour, arc radius, label)
    'input': ('#555555', 0.0, 'backbone input'),
    'path': ('#1f77b4', 0.0, 'top-down / bottom-up path'),
    'skip': ('#2ca02c', -0.25, 'skip-layer'),
    'queen_coarse': ('#d62728', 0.0, 'queen fusion (from coarser)'),
    'queen_fine': ('#ff7f0e', 0.0, 'queen fusion (from finer)'),
    'output': ('#555555', 0.0, 'output'),
}


def spec_from_config(path: str) -> GFPNGraphSpec:
    """Reads the GFPN neck of an mmdet config into a graph spec."""
    from mmengine.config import Config
    neck = Config.fromfile(path).model.neck
    if neck.get('type') != 'GFPN':
        raise ValueError(f'{path}: model.neck.type is {neck.get("type")!r}, not GFPN')
    num_levels = neck.get('num_outs') or len(neck['in_channels'])
    kwargs = dict(num_levels=num_levels, skip_type=neck.get('skip_type', 'log2n'),
                  queen_fusion=neck.get('queen_fusion', True))
    if neck.get('num_layers') is not None:
        return GFPNGraphSpec(num_layers=neck['num_layers'], **kwargs)
    return GFPNGraphSpec.from_depth_multiplier(neck.get('depth_multiplier', 7), **kwargs)


def draw_graph(graph: GFPNGraph, out: str, title: str = '') -> str:
    """Writes ``graph`` as a PNG to ``out`` and returns the path."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrowPatch

    def xy(node):
        return node.layer + 1, node.level

    width = max(6.0, 0.75 * (graph.num_layers + 2) + 2)
    height = max(3.0, 1.0 * graph.num_levels + 1.5)
    fig, ax = plt.subplots(figsize=(width, height))
    for edge in graph.edges:
        colour, rad, _ = EDGE_STYLE[edge.kind]
        src, dst = graph.nodes[edge.src], graph.nodes[edge.dst]
        if edge.kind == 'skip' and dst.layer - src.layer == 1:
            rad = 0.0  # the plain previous-layer edge needs no arc
        ax.add_patch(FancyArrowPatch(
            xy(src), xy(dst), arrowstyle='-|>', mutation_scale=7, color=colour, lw=0.8,
            alpha=0.75, connectionstyle=f'arc3,rad={rad}', shrinkA=5, shrinkB=5))
    face = {'input': 'white', 'top_down': '#c6dbef', 'bottom_up': '#fdd0a2'}
    for node in graph.nodes:
        kind = 'output' if node.layer == graph.num_layers else node.kind
        x, y = xy(node)
        ax.scatter([x], [y], s=70, zorder=3, edgecolors='black', linewidths=0.6,
                   c=face.get(kind, '#a1d99b'))
    ax.set_xticks(range(graph.num_layers + 2))
    ax.set_xticklabels(['in'] + [str(k) for k in range(graph.num_layers)] + ['out'],
                       fontsize=8)
    ax.set_yticks(range(graph.num_levels))
    ax.set_yticklabels([f'P{3 + i}' for i in range(graph.num_levels)])
    ax.set_xlabel('layer (even: top-down, odd: bottom-up)')
    ax.set_xlim(-0.6, graph.num_layers + 1.6)
    ax.set_ylim(-0.6, graph.num_levels + 0.2)  # headroom for the skip arcs
    handles = [Line2D([0], [0], color=c, lw=1.5,
                      label=f'{graph.spec.skip_type} skip-layer' if kind == 'skip' else label)
               for kind, (c, _, label) in EDGE_STYLE.items()
               if kind != 'output' and any(e.kind == kind for e in graph.edges)]
    ax.legend(handles=handles, loc='upper center', bbox_to_anchor=(0.5, -0.18), ncol=3,
              fontsize=8, frameon=False)
    spec = graph.spec
    ax.set_title(title or (f'GFPN: {spec.num_levels} levels, {spec.num_layers} layers, '
                           f'skip={spec.skip_type}, queen={spec.queen_fusion} '
                           f'({len(graph.fusion_nodes)} fusion nodes, {len(graph.edges)} '
                           f'edges)'), fontsize=10)
    for side in ('top', 'right'):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Draw a GFPN graph as a PNG.')
    parser.add_argument('--config', help='an mmdet config whose model.neck is a GFPN')
    parser.add_argument('--depth-multiplier', type=int, default=7,
                        help='family depth d: 2d-1 layers (ignored with --config)')
    parser.add_argument('--num-layers', type=int, help='override the layer count')
    parser.add_argument('--num-levels', type=int, default=5)
    parser.add_argument('--skip-type', default='log2n', choices=['log2n', 'dense', 'chain'])
    parser.add_argument('--no-queen', action='store_true', help='drop queen-fusion edges')
    parser.add_argument('--out', default='work_dirs/gfpn_graph.png', help='PNG path')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.config:
        spec = spec_from_config(args.config)
    else:
        kwargs = dict(num_levels=args.num_levels, skip_type=args.skip_type,
                      queen_fusion=not args.no_queen)
        spec = (GFPNGraphSpec(num_layers=args.num_layers, **kwargs)
                if args.num_layers else
                GFPNGraphSpec.from_depth_multiplier(args.depth_multiplier, **kwargs))
    graph = build_gfpn_graph(spec)
    print(draw_graph(graph, args.out))


if __name__ == '__main__':
    main()
