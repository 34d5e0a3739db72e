"""YOLOv7Assigner on hand-checked cases."""
import pytest
import torch

from detnas.models.task_modules.yolov7_assigner import YOLOv7Assigner


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


# one 64x64 image, one level of stride 8 (8x8 cells); gt centre (27.2, 36.8) -> grid
# (3.4, 4.6): x fraction 0.4 < 0.5 -> left neighbour (gx=2), y fraction 0.6 -> the cell
# below (gy=5) since 8 - 4.6 = 3.4 has fraction 0.4 < 0.5.
GT = torch.tensor([[19.2, 24.8, 35.2, 48.8]])  # 16 x 24
ANCHORS = [torch.tensor([[16., 24.], [16., 16.], [200., 200.]])]  # 3rd: ratio 12.5 > 4


def test_candidates_follow_yolov5_rule():
    a = YOLOv7Assigner(num_classes=2)
    (cands, ) = a.find_candidates(GT, [(8, 8)], [8], ANCHORS)
    got = sorted(map(tuple, cands.tolist()))
    cells = [(4, 3), (4, 2), (5, 3)]  # (gy, gx)
    assert got == sorted((0, anc, gy, gx) for anc in (0, 1) for gy, gx in cells)
    # auxiliary rule (offset 1.0): the 4 neighbours as well
    (cands5, ) = YOLOv7Assigner(2, neighbour_offset=1.0).find_candidates(
        GT, [(8, 8)], [8], ANCHORS)
    cells5 = [(4, 3), (4, 2), (3, 3), (4, 4), (5, 3)]
    assert sorted(map(tuple, cands5.tolist())) == sorted(
        (0, anc, gy, gx) for anc in (0, 1) for gy, gx in cells5)


def test_dynamic_topk_picks_cheapest_candidates():
    a = YOLOv7Assigner(num_classes=2)
    # zero logits: every candidate box is its anchor centred on its cell, equal class cost
    preds = [torch.zeros(3, 8, 8, 7)]
    matches = a.assign(preds, [8], ANCHORS, GT, torch.tensor([1]))[0]
    gt = GT[0].tolist()
    ious = {}
    for anc, (w, h) in enumerate([(16, 24), (16, 16)]):
        for gy, gx in [(4, 3), (4, 2), (5, 3)]:
            cx, cy = (gx + 0.5) * 8, (gy + 0.5) * 8
            ious[(anc, gy, gx)] = _iou(gt, [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    k = int(sum(ious.values()))  # all 6 candidates are within the top-10
    assert k == 3  # 0.849 + 0.613 + 0.498 + 0.437 + 0.362 + 0.282 = 3.04
    best = sorted(ious, key=ious.get, reverse=True)[:k]
    assert sorted(map(tuple, matches[:, 1:].tolist())) == sorted(best)
    assert matches[:, 0].tolist() == [0, 0, 0]
    assert torch.equal(a.dynamic_ks(torch.tensor([list(ious.values())])),
                       torch.tensor([3], dtype=torch.int32))


def test_conflicting_candidate_goes_to_cheaper_gt():
    cost = torch.tensor([[1.0, 2.0, 9.0, 5.0],
                         [3.0, 0.5, 4.0, 8.0]])
    match = YOLOv7Assigner.match_by_cost(cost, torch.tensor([2, 2]))
    # gt0 wants {0, 1}, gt1 wants {1, 0}: column 0 is cheaper for gt0 (1 < 3), column 1
    # for gt1 (0.5 < 2); nothing else is taken
    assert match.tolist() == [[True, False, False, False], [False, True, False, False]]


def test_no_gt_gives_empty_matches():
    a = YOLOv7Assigner(num_classes=2)
    out = a.assign([torch.zeros(3, 4, 4, 7)], [8], ANCHORS, torch.zeros(0, 4),
                   torch.zeros(0, dtype=torch.long))
    assert out[0].shape == (0, 4)


def test_bad_offset():
    with pytest.raises(ValueError, match='neighbour_offset'):
        YOLOv7Assigner(2, neighbour_offset=1.5)
