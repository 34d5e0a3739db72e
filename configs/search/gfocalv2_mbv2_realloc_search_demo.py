# Reallocation search around the demo GFocal V2 detector's ImageNet MobileNetV2 at the seed's
# FLOPs: can moving FLOPs from the stride-16/32 stages into the stride-4/8 ones beat the seed
# at its own cost? (bench/adaptation.py --config this file: adapted vs the seed architecture
# with the same supernet weights).
#   python tools/search.py configs/search/gfocalv2_mbv2_realloc_search_demo.py
_base_ = ['../baselines/gfocalv2_mbv2_fpn_demo.py', '../_base_/search/mbv2_realloc_search.py']
