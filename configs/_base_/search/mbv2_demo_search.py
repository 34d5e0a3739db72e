# The demo search around an ImageNet MobileNetV2 seed (widths 16 24 32 64 96 160 320, depths
# 1 2 3 4 3 3 1, kernel 3, expansion 6): kernels {3,5,7} x expansions {3,4,6}, widths and depths
# around the seed's, skips allowed. Shared by the demo search configs in configs/search/.
# Only what differs from the defaults is written (every key and its default:
# detnas/nas/pipeline/settings.py and configs/search/README.md).
_ops = dict(kernels=[3, 5, 7], expand_ratios=[3, 4, 6], allow_skip=True)
search = dict(
    # one entry per seed stage; the seed must be a member of the space
    space=dict(stages=[
        dict(widths=[16], depth=(1, 1), kernels=[3], expand_ratios=[1]),
        dict(widths=[16, 24], depth=(1, 2), **_ops),
        dict(widths=[24, 32, 40], depth=(2, 3), **_ops),
        dict(widths=[48, 64], depth=(2, 4), **_ops),
        dict(widths=[72, 96], depth=(2, 3), **_ops),
        dict(widths=[128, 160], depth=(2, 3), **_ops),
        dict(widths=[320], depth=(1, 1), kernels=[3], expand_ratios=[6]),
    ]),
    supernet=dict(max_epochs=6, num_random=1),  # largest + smallest + 1 random per batch
    evolution=dict(population_size=12, generations=6),
)
del _ops  # a helper of this file, not a config key (it would reach every exported config)
