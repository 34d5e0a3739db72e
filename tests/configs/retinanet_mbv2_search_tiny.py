# tools/search.py on the tiny test data: a small space, 64 px costs, 1 supernet epoch,
# population 4, 2 generations.
_base_ = './retinanet_tiny.py'
_mb = dict(kernels=[3], expand_ratios=[6])
search = dict(
    space=dict(stages=[
        dict(widths=[16], depth=(1, 1), kernels=[3], expand_ratios=[1]),
        dict(widths=[16, 24], depth=(1, 2), kernels=[3], expand_ratios=[3, 6],
             allow_skip=True),
        dict(widths=[24, 32], depth=(2, 3), kernels=[3, 5], expand_ratios=[6],
             allow_skip=True),
        dict(widths=[64], depth=(4, 4), **_mb),
        dict(widths=[96], depth=(3, 3), **_mb),
        dict(widths=[160], depth=(3, 3), **_mb),
        dict(widths=[320], depth=(1, 1), **_mb),
    ]),
    heldout_fraction=0.25,
    objectives=['-bbox_mAP', 'flops', 'params', 'latency_ms'],
    constraints=['flops<=seed'],
    supernet=dict(max_epochs=1, num_random=2),
    evolution=dict(population_size=4, generations=2),
    image_size=(64, 64),
    bn_calibration=dict(num_batches=1, batch_size=4),
    eval_batch_size=4,
    latency=dict(warmup=1, repeats=3, num_check_archs=4),
)
