"""Seq-Heads against mmdet's parallel RetinaHead / FCOSHead / ATSSHead."""
import copy

import pytest
import torch
from mmdet.models.dense_heads import ATSSHead, FCOSHead, RetinaHead
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.analysis import FlopAnalyzer
from mmengine.optim import OptimWrapper

import detnas  # noqa: F401  registers the Seq heads
from detnas.models.dense_heads.seq_heads import SeqATSSHead, SeqFCOSHead, SeqRetinaHead

STRIDES = [8, 16, 32]
ATSS_ANCHORS = dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=8,
                    scales_per_octave=1, strides=STRIDES)
RETINA_ANCHORS = dict(type='AnchorGenerator', octave_base_scale=4, scales_per_octave=3,
                      ratios=[0.5, 1.0, 2.0], strides=STRIDES)
# (seq class, parallel mmdet class, head kwargs)
HEADS = [
    (SeqRetinaHead, RetinaHead, dict(anchor_generator=RETINA_ANCHORS)),
    (SeqFCOSHead, FCOSHead, dict(strides=STRIDES, regress_ranges=((-1, 64), (64, 128),
                                                                  (128, 1e8)))),
    (SeqATSSHead, ATSSHead, dict(anchor_generator=ATSS_ANCHORS)),
]
IDS = ['retina', 'fcos', 'atss']
ORDERS = ['cls_reg', 'reg_cls']


def build(cls, kwargs, channels=32, feat_channels=32, seed=0, **extra):
    torch.manual_seed(seed)
    head = cls(num_classes=5, in_channels=channels, feat_channels=feat_channels,
               stacked_convs=2, **kwargs, **extra)
    head.init_weights()
    return head.eval()


def features(channels=32, batch=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, channels, 16 // 2**i, 24 // 2**i, generator=g)
                 for i in range(len(STRIDES)))


def count(module):
    return sum(p.numel() for p in module.parameters())


def macs(head, feats):
    analyzer = FlopAnalyzer(head, (feats, ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analyzer.total()


def flat(outputs):
    return [t for level_list in outputs for t in level_list]


@pytest.mark.parametrize('seq_cls, par_cls, kwargs', HEADS, ids=IDS)
@pytest.mark.parametrize('order', ORDERS)
def test_shapes_params_and_flops_match_parallel_head(seq_cls, par_cls, kwargs, order):
    seq = build(seq_cls, kwargs, seq_order=order)
    par = build(par_cls, kwargs)
    feats = features()
    with torch.no_grad():
        seq_out, par_out = seq(feats), par(feats)
    assert len(seq_out) == len(par_out)
    assert [t.shape for t in flat(seq_out)] == [t.shape for t in flat(par_out)]
    # the stated bound is +-1 %; with in_channels == feat_channels it is exact
    assert abs(count(seq) - count(par)) <= 0.01 * count(par)
    assert count(seq) == count(par)
    seq_macs, par_macs = macs(seq, feats), macs(par, feats)
    assert abs(seq_macs - par_macs) <= 0.01 * par_macs
    # and the state dicts line up key for key, so parallel checkpoints load
    assert {k: v.shape for k, v in seq.state_dict().items()} == \
        {k: v.shape for k, v in par.state_dict().items()}


@pytest.mark.parametrize('seq_cls, par_cls, kwargs', HEADS, ids=IDS)
def test_wider_input_changes_only_the_second_towers_first_conv(seq_cls, par_cls, kwargs):
    """in_channels != feat_channels: the second tower reads feat_channels, so it loses
    9 * (in - feat) * feat weights, and nothing else changes."""
    seq = build(seq_cls, kwargs, channels=64, feat_channels=32, seq_order='cls_reg')
    par = build(par_cls, kwargs, channels=64, feat_channels=32)
    assert seq.cls_convs[0].conv.in_channels == 64
    assert seq.reg_convs[0].conv.in_channels == 32
    assert count(par) - count(seq) == 9 * (64 - 32) * 32
    with torch.no_grad():
        out = seq(features(64))
    assert [t.shape for t in flat(out)] == [t.shape for t in flat(par(features(64)))]


@pytest.mark.parametrize('seq_cls, par_cls, kwargs', HEADS, ids=IDS)
def test_parallel_order_is_the_mmdet_head(seq_cls, par_cls, kwargs):
    seq = build(seq_cls, kwargs, seed=3, seq_order='parallel')
    par = build(par_cls, kwargs, seed=4)
    seq.load_state_dict(par.state_dict(), strict=True)
    feats = features()
    with torch.no_grad():
        for s, p in zip(flat(seq(feats)), flat(par(feats))):
            torch.testing.assert_close(s, p)


def run_tower(tower, feats):
    out = []
    for x in feats:
        for layer in tower:
            x = layer(x)
        out.append(x)
    return tuple(out)


FCOS_KW = HEADS[1][2]
# which tower feeds each output of forward(): (cls_scores, bbox_preds[, centernesses])
BRANCHES = [
    (SeqRetinaHead, RetinaHead, HEADS[0][2], ('cls', 'reg')),
    (SeqFCOSHead, FCOSHead, dict(FCOS_KW, centerness_on_reg=True), ('cls', 'reg', 'reg')),
    (SeqFCOSHead, FCOSHead, dict(FCOS_KW, centerness_on_reg=False), ('cls', 'reg', 'cls')),
    (SeqATSSHead, ATSSHead, HEADS[2][2], ('cls', 'reg', 'reg')),
]


@pytest.mark.parametrize('seq_cls, par_cls, kwargs, branches', BRANCHES,
                         ids=['retina', 'fcos_ctr_on_reg', 'fcos_ctr_on_cls', 'atss'])
@pytest.mark.parametrize('order', ORDERS)
def test_second_tower_reads_first_towers_output(seq_cls, par_cls, kwargs, branches, order):
    """Oracle from the mmdet head itself (same weights): outputs computed from the first
    tower equal the parallel head's on x; outputs computed from the second tower equal the
    parallel head's on first_tower(x)."""
    par = build(par_cls, kwargs, seed=5)
    seq = build(seq_cls, kwargs, seed=6, seq_order=order)
    seq.load_state_dict(par.state_dict(), strict=True)
    feats = features()
    first = order.split('_')[0]
    with torch.no_grad():
        first_tower = par.cls_convs if first == 'cls' else par.reg_convs
        on_x = par(feats)
        on_first = par(run_tower(first_tower, feats))
        out = seq(feats)
    assert len(out) == len(branches)
    for k, branch in enumerate(branches):
        ref = on_x[k] if branch == first else on_first[k]
        other = on_first[k] if branch == first else on_x[k]
        for s, r, o in zip(out[k], ref, other):
            torch.testing.assert_close(s, r)
            assert not torch.allclose(s, o, rtol=1e-3, atol=1e-5)


def test_bad_order_raises():
    with pytest.raises(ValueError, match='seq_order'):
        SeqRetinaHead(num_classes=3, in_channels=8, seq_order='cls->reg')


def detector_cfg(det_type, head_type, head_kwargs):
    return dict(
        type=det_type,
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[128.0] * 3, std=[64.0] * 3,
                               bgr_to_rgb=True, pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, base_channels=8, out_indices=(1, 2, 3),
                      norm_cfg=dict(type='BN'), init_cfg=None),
        neck=dict(type='SAFPN', in_channels=[16, 32, 64], out_channels=32, num_outs=3,
                  add_extra_convs='on_output', attention='channel'),
        bbox_head=dict(type=head_type, num_classes=5, in_channels=32, feat_channels=32,
                       stacked_convs=2, **head_kwargs),
        train_cfg=TRAIN_CFGS[det_type],
        test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.0,
                      nms=dict(type='nms', iou_threshold=0.5), max_per_img=10))


TRAIN_CFGS = dict(
    RetinaNet=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4,
                                 min_pos_iou=0, ignore_iof_thr=-1),
                   sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1,
                   debug=False),
    FCOS=None,
    ATSS=dict(assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1, pos_weight=-1,
              debug=False),
)
DETECTORS = [
    ('RetinaNet', 'SeqRetinaHead', dict(anchor_generator=RETINA_ANCHORS)),
    ('FCOS', 'SeqFCOSHead', dict(strides=STRIDES, norm_cfg=None,
                                 regress_ranges=((-1, 64), (64, 128), (128, 1e8)))),
    ('ATSS', 'SeqATSSHead', dict(anchor_generator=ATSS_ANCHORS, norm_cfg=None,
                                 reg_decoded_bbox=True,
                                 loss_bbox=dict(type='GIoULoss', loss_weight=2.0))),
]


def box_losses(losses):
    """Sum of the box-regression losses (per-level lists for RetinaNet)."""
    total = 0
    for key, value in losses.items():
        if 'bbox' in key:
            total = total + (sum(value) if isinstance(value, list) else value)
    return total


@pytest.mark.parametrize('det_type, head_type, head_kwargs', DETECTORS, ids=IDS)
def test_one_train_step_on_cpu(det_type, head_type, head_kwargs):
    """SAFPN + Seq head inside an mmdet detector: a full optimizer step runs; the box loss
    reaches the classification tower only because the towers are sequential."""
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(detector_cfg(det_type, head_type, head_kwargs))
    model.init_weights()
    model.train()
    packed = demo_mm_inputs(2, [(3, 64, 96)] * 2, num_items=[3, 2], num_classes=5)
    data = model.data_preprocessor(packed, True)

    losses = model(**data, mode='loss')
    box_loss = box_losses(losses)
    cls_weight = model.bbox_head.cls_convs[0].conv.weight
    grad = torch.autograd.grad(box_loss, cls_weight, allow_unused=True)[0]
    assert grad is not None and grad.abs().sum() > 0

    parallel_cfg = copy.deepcopy(detector_cfg(det_type, head_type, head_kwargs))
    parallel_cfg['bbox_head']['seq_order'] = 'parallel'
    parallel = MODELS.build(parallel_cfg)
    p_losses = parallel(**parallel.data_preprocessor(packed, True), mode='loss')
    p_box = box_losses(p_losses)
    p_grad = torch.autograd.grad(p_box, parallel.bbox_head.cls_convs[0].conv.weight,
                                 allow_unused=True)[0]
    assert p_grad is None or p_grad.abs().sum() == 0

    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    log_vars = model.train_step(packed, optim)
    assert torch.isfinite(torch.as_tensor(log_vars['loss']).detach())
    changed = {k for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    for name in ('neck.scale_attention.excite.weight', 'neck.fpn_convs.0.conv.weight',
                 'bbox_head.cls_convs.0.conv.weight', 'bbox_head.reg_convs.1.conv.weight'):
        assert name in changed
