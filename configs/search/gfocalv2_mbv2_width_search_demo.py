# Width search (per-stage channels and per-block expansion; depths and kernels the seed's)
# around the demo GFocal V2 detector's ImageNet MobileNetV2: the space holds the seed's
# uniform width scalings, so it answers whether a searched channel allocation beats the
# width multiplier at equal FLOPs (bench/pareto_vs_uniform.py --config this file).
#   python tools/search.py configs/search/gfocalv2_mbv2_width_search_demo.py \
#       --cfg-options "search.constraints=['flops<=0.5*seed']"
_base_ = ['../baselines/gfocalv2_mbv2_fpn_demo.py', '../_base_/search/mbv2_width_search.py']
