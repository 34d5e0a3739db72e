# Backbone adaptation search on the demo data: the demo RetinaNet's ImageNet MobileNetV2 seed
# in the shared demo search space (configs/_base_/search/mbv2_demo_search.py).
#   python tools/search.py configs/search/retinanet_mbv2_search_demo.py
#   python tools/train.py work_dirs/retinanet_mbv2_search_demo/search/chosen.py
_base_ = ['../baselines/retinanet_mbv2_fpn_demo.py', '../_base_/search/mbv2_demo_search.py']
