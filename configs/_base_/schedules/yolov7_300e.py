# YOLOv7's schedule (official hyp.scratch.p5): 300 epochs, validation every 10; SGD 0.01,
# momentum 0.937, nesterov, wd 5e-4 at batch 64 (official: wd scaled by batch/64, no decay on
# BN and biases); 3 warm-up epochs, cosine to lrf=0.1. The recipe's EMA hook and checkpoint
# interval are runtime settings: the configs in configs/yolov7/ set them.
max_epochs = 300
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.937, weight_decay=0.0005, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=0.1, by_epoch=True, begin=3,
         end=max_epochs, T_max=max_epochs - 3, convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=64)
