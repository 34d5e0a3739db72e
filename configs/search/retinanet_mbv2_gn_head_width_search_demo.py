# Width search (per-stage channels and per-block expansion; depths and kernels the seed's)
# around the demo RetinaNet with the GroupNorm head (its plain head is too unstable to be a
# yardstick: bench/results/retinanet_head_norm.md). The GFocal V2 twin is
# gfocalv2_mbv2_width_search_demo.py; bench/pareto_vs_uniform.py --config this file asks the
# same question of RetinaNet: does a searched channel allocation beat the width multiplier?
#   python tools/search.py configs/search/retinanet_mbv2_gn_head_width_search_demo.py \
#       --cfg-options "search.constraints=['flops<=0.5*seed']"
_base_ = [
    '../baselines/retinanet_mbv2_fpn_gn_head_demo.py', '../_base_/search/mbv2_width_search.py'
]
