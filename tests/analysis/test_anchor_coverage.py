"""anchor_coverage on a hand-worked grid: four 32x32 anchors centred at (0|16, 0|16)."""
import numpy as np
import pytest

from detnas.analysis import anchor_coverage

ONE_SIZE = dict(type='AnchorGenerator', strides=[16], ratios=[1.0], octave_base_scale=2,
                scales_per_octave=1)


def test_a_box_that_no_anchor_reaches_counts_as_uncovered():
    boxes = [np.array([[0, 0, 16, 16]]),  # best anchor [-16,-16,16,16]: IoU 256/1024
             np.array([[0, 0, 32, 32]]),  # the anchor centred at (16, 16) exactly
             np.zeros((0, 4))]            # an image without boxes
    got = anchor_coverage(ONE_SIZE, boxes, (32, 32), pos_iou_thr=0.5)
    assert got['boxes'] == 2
    assert got['uncovered'] == 0.5 and got['uncovered_small'] == 1.0  # 16x16 is small
    assert got['median_best_iou'] == pytest.approx((0.25 + 1.0) / 2)
    assert got['median_positives'] == 0.5
    # at 0.25 the small box reaches all four anchors (each contains it) and the large one
    # three: its own and the two sharing half of it (512 / 1536)
    low = anchor_coverage(ONE_SIZE, boxes, (32, 32), pos_iou_thr=0.25)
    assert low['uncovered'] == 0.0 and low['median_positives'] == (4 + 3) / 2
