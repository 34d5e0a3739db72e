"""GFocal V2 head (DGQP on mmdet's GFL head)."""
import pytest
import torch
from mmdet.models.dense_heads import GFLHead
from mmengine.config import ConfigDict

from detnas.models.dense_heads.gfocal_v2_head import DGQP, GFocalV2Head

ANCHORS = dict(type='AnchorGenerator', ratios=[1.0], octave_base_scale=8,
               scales_per_octave=1, strides=[8, 16])
QFL_PROB = dict(type='QualityFocalLoss', use_sigmoid=True, activated=True, beta=2.0,
                loss_weight=1.0)
QFL_LOGIT = dict(type='QualityFocalLoss', use_sigmoid=True, beta=2.0, loss_weight=1.0)
TRAIN_CFG = ConfigDict(assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1,
                       pos_weight=-1, debug=False)
TEST_CFG = ConfigDict(nms_pre=100, min_bbox_size=0, score_thr=0.0,
                      nms=dict(type='nms', iou_threshold=0.6), max_per_img=20)


def _head(cls=GFocalV2Head, **kwargs):
    cfg = dict(num_classes=3, in_channels=8, feat_channels=8, stacked_convs=1, reg_max=7,
               norm_cfg=dict(type='GN', num_groups=4), anchor_generator=ANCHORS,
               loss_bbox=dict(type='GIoULoss', loss_weight=2.0), train_cfg=TRAIN_CFG,
               test_cfg=TEST_CFG)
    if cls is GFocalV2Head:
        cfg['loss_cls'] = QFL_PROB
    cfg.update(kwargs)
    head = cls(**cfg)
    head.init_weights()
    return head


def test_dgqp_statistics_are_topk_and_mean():
    dgqp = DGQP(reg_max=3, topk=2, channels=4, add_mean=True)
    probs = torch.tensor([0.1, 0.6, 0.2, 0.1])
    logits = probs.log().repeat(4).view(1, 16, 1, 1)  # softmax(log p) = p on all sides
    stat = dgqp.statistics(logits).view(4, 3)
    assert torch.allclose(stat, torch.tensor([0.6, 0.2, 0.4]).expand(4, 3), atol=1e-6)


def test_dgqp_shape_range_and_bin_permutation_invariance():
    torch.manual_seed(0)
    dgqp = DGQP(reg_max=16, topk=4, channels=64)
    for m in dgqp.mlp:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=1.0)
    pred = torch.randn(2, 4 * 17, 5, 7) * 3
    q = dgqp(pred)
    assert q.shape == (2, 1, 5, 7)
    assert (q > 0).all() and (q < 1).all()
    # the quality depends on the distribution's shape, not on where the mass sits
    perm = torch.randperm(17)
    shuffled = pred.view(2, 4, 17, 5, 7)[:, :, perm].reshape(2, 68, 5, 7)
    assert torch.allclose(dgqp(shuffled), q, atol=1e-6)
    # ... and a sharper distribution changes it
    assert not torch.allclose(dgqp(pred * 4), q, atol=1e-3)


def test_head_scores_are_sigmoid_times_quality():
    head = _head().eval()
    feats = (torch.randn(2, 8, 8, 10), torch.randn(2, 8, 4, 5))
    cls_scores, bbox_preds = head(feats)
    assert [tuple(c.shape) for c in cls_scores] == [(2, 3, 8, 10), (2, 3, 4, 5)]
    assert [tuple(b.shape) for b in bbox_preds] == [(2, 32, 8, 10), (2, 32, 4, 5)]
    x = feats[0]
    for conv in head.cls_convs:
        x = conv(x)
    expected = head.gfl_cls(x).sigmoid() * head.dgqp(bbox_preds[0])
    assert torch.allclose(cls_scores[0], expected, atol=1e-6)
    assert all(((c >= 0) & (c <= 1)).all() for c in cls_scores)


def test_loss_equals_gfl_v1_loss_on_the_same_probabilities():
    """GFLHead's loss on logits s must equal ours on sigmoid(s) (QFL on probabilities)."""
    torch.manual_seed(0)
    v1, v2 = _head(GFLHead, loss_cls=QFL_LOGIT), _head()
    n, hw = 2, (6, 6)
    anchors = v1.prior_generator.single_level_grid_priors(hw, 0, device='cpu').expand(n, -1, -1)
    logits = torch.randn(n, 3, *hw)
    bbox_pred = torch.randn(n, 32, *hw)
    labels = torch.full((n, 36), 3, dtype=torch.long)
    labels[0, [3, 10, 20]] = torch.tensor([0, 2, 1])
    labels[1, 7] = 1
    boxes = torch.rand(n, 36, 4) * 20
    boxes[..., 2:] += boxes[..., :2] + 8
    weights = torch.ones(n, 36)
    args = (labels, weights, boxes, (8, 8), 4.0)
    out1 = v1.loss_by_feat_single(anchors, logits, bbox_pred, *args)
    out2 = v2.loss_by_feat_single(anchors, logits.sigmoid(), bbox_pred, *args)
    for a, b in zip(out1, out2):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert out2[1] > 0 and out2[2] > 0  # positives produced box and DFL losses


def test_predict_keeps_the_probabilities_as_scores():
    head = _head().eval()
    feats = (torch.randn(1, 8, 8, 8), torch.randn(1, 8, 4, 4))
    cls_scores, bbox_preds = head(feats)
    meta = dict(img_shape=(64, 64), scale_factor=(1.0, 1.0), ori_shape=(64, 64))
    res = head.predict_by_feat(cls_scores, bbox_preds, batch_img_metas=[meta],
                               rescale=False)[0]
    top = max(c.max() for c in cls_scores)
    assert torch.allclose(res.scores.max(), top, atol=1e-5)


def test_rejects_qfl_on_logits():
    with pytest.raises(ValueError, match='activated=True'):
        _head(loss_cls=QFL_LOGIT)
    with pytest.raises(ValueError, match='reg_topk'):
        _head(reg_topk=9)  # reg_max=7 -> only 8 bins per side
