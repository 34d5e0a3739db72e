# Backbone adaptation search on COCO around an ImageNet ResNet-50 seed (the RetinaNet
# R-50-FPN 1x config; its init_cfg names the seed checkpoint, offline use
# checkpoint='detnas:///path/to/resnet50.pth').
#   python tools/search.py configs/search/retinanet_r50_search_coco.py
#   bash tools/dist_train.sh work_dirs/retinanet_r50_search_coco/search/chosen.py 8
_base_ = ['../baselines/retinanet_r50_fpn_1x_coco.py', '../_base_/search/resnet50_search.py']
