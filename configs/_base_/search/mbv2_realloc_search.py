# A reallocation search around an ImageNet MobileNetV2 seed (widths 16 24 32 64 96 160 320,
# depths 1 2 3 4 3 3 1, kernel 3, expansion 6): the high-resolution stages 2-3 may grow (wider,
# one block deeper: added channels and blocks start function-preserving) and the stride-16/32
# stages 4-7 may shrink (down to half their width, one block shallower), so the seed's FLOPs
# can be moved between resolutions. The width search's choices motivate it: under 0.75x the
# seed's FLOPs it keeps stages 1-3 whole, spends about half the seed's FLOPs on stages 4-7,
# and beats uniform scaling (bench/results/pareto_width). Measured at the seed's FLOPs, no
# reallocation beat the seed (bench/results/realloc_seed_budget). Shared by
# configs/search/gfocalv2_mbv2_realloc_search_demo.py.
_ops = dict(kernels=[3], expand_ratios=[3, 4, 6], allow_skip=False)
search = dict(
    space=dict(stages=[
        dict(widths=[16], depth=(1, 1), kernels=[3], expand_ratios=[1]),
        dict(widths=[16, 24, 32], depth=(2, 3), **_ops),
        dict(widths=[24, 32, 40, 48], depth=(3, 4), **_ops),
        dict(widths=[32, 40, 48, 56, 64], depth=(3, 4), **_ops),
        dict(widths=[48, 56, 64, 72, 80, 88, 96], depth=(2, 3), **_ops),
        dict(widths=[80, 96, 112, 128, 144, 160], depth=(2, 3), **_ops),
        dict(widths=[160, 192, 224, 256, 288, 320], depth=(1, 1), **_ops),
    ]),
    supernet=dict(max_epochs=6, num_random=1),  # largest + smallest + 1 random per batch
    evolution=dict(population_size=12, generations=6),
)
del _ops  # a helper of this file, not a config key (it would reach every exported config)
