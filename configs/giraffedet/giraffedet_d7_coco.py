# GiraffeDet-D7 on COCO: S2D-chain backbone + GFPN neck (depth multiplier 7 -> 13 fusion
# layers, inner width int(256 * 0.7) = 179) + GFocal V2 head, trained from scratch with
# multi-scale training on the official "6x" schedule (73 epochs, steps at 66 and 71,
# batch 16 = 8 GPUs x 2). Official config: damo-cv/GiraffeDet
# configs/giraffeDet/giraffe_d7_scratch_6x.py.
#   bash tools/dist_train.sh configs/giraffedet/giraffedet_d7_coco.py 8
_base_ = [
    '../_base_/models/gfocalv2_mbv2_fpn.py', '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]

# official: SyncBN everywhere except the GN head; use dict(type='BN') on one device
norm_cfg = dict(type='SyncBN', requires_grad=True)

# the GFocal V2 detector of the model base (head, ATSS, test settings) with its MobileNetV2
# and FPN replaced by the S2D chain and the GFPN
model = dict(
    data_preprocessor=dict(pad_size_divisor=128),
    backbone=dict(_delete_=True, type='S2DChain', arch='giraffedet', norm_cfg=norm_cfg),
    neck=dict(
        _delete_=True,
        type='GFPN',
        in_channels=[128, 256, 512, 1024, 2048],
        out_channels=256,
        depth_multiplier=7,
        width_multiplier=0.7,
        skip_type='log2n',
        queen_fusion=True,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='SiLU')))

# multi-scale training: short side in [480, 960], long side <= 1333
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=[(1333, 480), (1333, 960)], keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# official "6x": the 1x schedule's SGD (lr 0.02 at batch 16) for 73 epochs, x0.1 at epochs 66
# and 71, 7330 linear warm-up iterations from 0.1x
max_epochs = 73
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=7330),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[66, 71],
         gamma=0.1)
]
