# tools/search.py around a ResNet-18 seed on the tiny test data: widths, depths and the
# block op (plain / dilated / grouped 3x3) searched; 64 px costs, 1 supernet epoch,
# population 4, 2 generations. The test writes the seed checkpoint and points
# model.backbone.init_cfg.checkpoint at it.
_base_ = './retinanet_tiny.py'
model = dict(
    backbone=dict(_delete_=True, type='ResNet', depth=18, out_indices=(1, 2, 3),
                  frozen_stages=1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=True, style='pytorch',
                  init_cfg=dict(type='Pretrained', checkpoint='detnas:///missing/r18.pth')),
    neck=dict(in_channels=[128, 256, 512], start_level=0))
_ops = [dict(op='res_block', kernel=3), dict(op='res_block', kernel=3, dilation=2),
        dict(op='res_block', kernel=3, groups=4)]
search = dict(
    space=dict(stages=[
        dict(widths=[64], depth=(2, 2)),
        dict(widths=[96, 128], depth=(1, 2), ops=_ops),
        dict(widths=[192, 256], depth=(1, 2), ops=_ops),
        dict(widths=[512], depth=(2, 2)),
    ]),
    heldout_fraction=0.25,
    constraints=['flops<=seed'],
    supernet=dict(max_epochs=1, num_random=1),
    evolution=dict(population_size=4, generations=2),
    image_size=(64, 64),
    bn_calibration=dict(num_batches=1, batch_size=4),
    eval_batch_size=4,
    latency=dict(warmup=1, repeats=3, num_check_archs=3),
)
