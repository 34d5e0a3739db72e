# Variant "+SA-FPN, top-down init": SA-FPN whose scale attention starts as FPN's top-down mix
# (each level averages itself and the coarser levels) instead of the uniform mix of all levels.
_base_ = './fcos_mbv2_safpn_demo.py'
model = dict(neck=dict(attention_init='top_down'))
