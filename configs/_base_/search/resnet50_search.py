# A search around a ResNet-50 seed (widths 256 512 1024 2048, depths 3 4 6 3, plain 3x3
# bottlenecks): widths 0.75x / 1x / 1.25x the seed's, depth -1 / +1, and per block the
# plain, dilated (2) and grouped (4 groups) 3x3 (detnas.nas.families.resnet.resnet_search_space).
# Only what differs from the defaults is written (detnas/nas/pipeline/settings.py).
# Any op registered in detnas.registry.SEARCH_OPS can be added to `ops`, e.g.
# dict(op='yolov7_elan', num_convs=2).
_ops = [dict(op='res_block', kernel=3), dict(op='res_block', kernel=3, dilation=2),
        dict(op='res_block', kernel=3, groups=4)]
search = dict(
    space=dict(stages=[
        dict(widths=[192, 256, 320], depth=(2, 4), ops=_ops),
        dict(widths=[384, 512, 640], depth=(3, 5), ops=_ops),
        dict(widths=[768, 1024, 1280], depth=(5, 7), ops=_ops),
        dict(widths=[1536, 2048, 2560], depth=(2, 4), ops=_ops),
    ]),
    heldout_fraction=0.02,  # of COCO train2017: ~2.4k images score each candidate
    supernet=dict(max_epochs=6, num_random=1),
    evolution=dict(population_size=20, generations=10),
    image_size=(800, 1333),
    bn_calibration=dict(num_batches=16),
)
del _ops  # a helper of this file, not a config key (it would reach every exported config)
