# A width search around an ImageNet MobileNetV2 seed: the seed's depths, kernels and layer
# ops kept, every stage's output width chosen from 1/2 to 1 times the seed's (multiples of 8)
# and every block's expansion from {3, 4, 6}. It contains the seed and (up to the stem, which
# stays 32 channels) the seed scaled uniformly by a width multiplier, so a search here can
# only beat uniform scaling by allocating channels better (AutoSlim's question, with the
# seed's weights mapped in). Shared by configs/search/gfocalv2_mbv2_width_search_demo.py.
_keep = dict(kernels=[3], expand_ratios=[3, 4, 6], allow_skip=False)
search = dict(
    space=dict(stages=[
        dict(widths=[16], depth=(1, 1), kernels=[3], expand_ratios=[1]),
        dict(widths=[16, 24], depth=(2, 2), **_keep),
        dict(widths=[16, 24, 32], depth=(3, 3), **_keep),
        dict(widths=[32, 40, 48, 56, 64], depth=(4, 4), **_keep),
        dict(widths=[48, 56, 64, 72, 80, 88, 96], depth=(3, 3), **_keep),
        dict(widths=[80, 96, 112, 128, 144, 160], depth=(3, 3), **_keep),
        dict(widths=[160, 192, 224, 256, 288, 320], depth=(1, 1), **_keep),
    ]),
    supernet=dict(max_epochs=6, num_random=1),  # largest + smallest + 1 random per batch
    evolution=dict(population_size=12, generations=6),
)
del _keep  # a helper of this file, not a config key (it would reach every exported config)
