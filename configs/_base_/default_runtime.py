# Runtime shared by every detnas config (mmdet 3.x conventions).
default_scope = 'mmdet'
custom_imports = dict(imports=['detnas'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))
# SeedCheckHook: stop when a detnas:// seed does not fit; ChannelsLastHook: NHWC is faster
# for depthwise convs on CPU (oneDNN; bench/channels_last.py)
custom_hooks = [dict(type='SeedCheckHook'), dict(type='ChannelsLastHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo on machines without CUDA
    dist_cfg=dict(backend='nccl'))

# TensorBoard (pip install detnas[tensorboard]): put this one line in your config, then
# `tensorboard --logdir WORK_DIR` (scalars: loss, lr, coco/bbox_mAP per epoch)
# visualizer = dict(vis_backends=[dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')])
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
