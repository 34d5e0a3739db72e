# GiraffeDet-D11 on COCO: as D7 with depth multiplier 11 (21 GFPN fusion layers).
# Official config: damo-cv/GiraffeDet configs/giraffeDet/giraffe_d11_scratch_6x.py.
_base_ = './giraffedet_d7_coco.py'

model = dict(neck=dict(depth_multiplier=11))
