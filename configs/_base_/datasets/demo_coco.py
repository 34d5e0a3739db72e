# The embedded demo data set (generated; results on it are demo results, not COCO), in the
# COCO format: coco_detection.py's pipelines and loaders with the demo's paths, classes,
# image size, batch size and workers.
# Make it with: python tools/dataset/make_demo_coco.py --out data/demo_coco
_base_ = './coco_detection.py'
data_root = 'data/demo_coco/'
metainfo = dict(classes=('circle', 'triangle', 'square', 'star', 'ring', 'cross'))
image_size = (320, 320)
missing_hint = 'python tools/dataset/make_demo_coco.py --out {data_root}'

# COCO's pipelines, resized to image_size instead of 1333x800
train_pipeline = [dict(t, scale=image_size) if t.type == 'Resize' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, scale=image_size) if t.type == 'Resize' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(min_size=1),
        missing_hint=missing_hint,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        missing_hint=missing_hint,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
