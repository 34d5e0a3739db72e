# The demo search around an ImageNet MobileNetV2 seed (widths 16 24 32 64 96 160 320, depths
# 1 2 3 4 3 3 1, kernel 3, expansion 6): kernels {3,5,7} x expansions {3,4,6}, widths and depths
# around the seed's, skips allowed. Shared by the demo search configs in configs/search/.
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
    heldout_fraction=0.2,  # of the *training* images; the val split is never used
    supernet=dict(max_epochs=6, num_random=1),  # largest + smallest + 1 random per batch
    evolution=dict(population_size=12, generations=6),
    objectives=['-bbox_mAP', 'flops', 'params', 'latency_ms'],
    constraints=['flops<=seed'],
    image_size=(320, 320),
    bn_calibration=dict(num_batches=4, batch_size=8),
    eval_batch_size=8,
    latency=dict(device=None, threads=None, warmup=3, repeats=10, num_check_archs=6),
)
