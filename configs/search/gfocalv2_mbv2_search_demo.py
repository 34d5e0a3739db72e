# Backbone adaptation search on the demo data with the GFocal V2 detector (MobileNetV2 seed +
# FPN + GFocal V2 head, configs/baselines/gfocalv2_mbv2_fpn_demo.py) in the shared demo search
# space. GFocal V2 learns the demo data much faster than RetinaNet (39.5 vs 9.5 AP after the
# 12-epoch schedule), so the supernet's held-out AP separates candidates far better.
#   python tools/search.py configs/search/gfocalv2_mbv2_search_demo.py
#   python tools/train.py work_dirs/gfocalv2_mbv2_search_demo/search/chosen.py
_base_ = ['../baselines/gfocalv2_mbv2_fpn_demo.py', '../_base_/search/mbv2_demo_search.py']
