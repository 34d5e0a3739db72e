"""detnas.deploy.check: the tolerance is 1e-4 of each output's own scale, with an absolute
floor of 1e-6 for (almost) all-zero outputs."""
import numpy as np
import pytest
import torch

from detnas.deploy.check import compare_outputs


def _pair(scale, error):
    ref = torch.linspace(-scale, scale, 50).reshape(2, 25)
    out = ref.double().numpy().copy()
    out[1, 3] += error
    return ref, out


@pytest.mark.parametrize('scale,error,passed', [
    (10.0, 0.9e-3, True), (10.0, 1.1e-3, False),  # 1e-4 x 10
    (0.01, 0.9e-6, True), (0.01, 2e-6, False),  # the floor: 1e-4 x 0.01 < 1e-6
    (0.0, 0.0, True)])
def test_relative_tolerance_with_an_absolute_floor(scale, error, passed):
    ref, out = _pair(scale, error)
    result = compare_outputs(['a'], [ref], [out])
    assert result.passed is passed
    assert result.max_abs_diff == pytest.approx(error, rel=1e-6, abs=1e-12)
    assert result.scale == pytest.approx(scale, rel=1e-6)


def test_each_output_against_its_own_scale():
    big, big_out = _pair(100.0, 0.0)
    small, small_out = _pair(1.0, 5e-4)  # tiny next to 100, too much for a scale of 1
    result = compare_outputs(['big', 'small'], [big, small], [big_out, small_out])
    assert not result.passed and result.worst.name == 'small'
    assert [o.passed for o in result.outputs] == [True, False]
    assert result.scale == pytest.approx(100.0)
    assert 'FAIL' in result.summary() and 'small' in result.summary()


def test_shape_or_count_mismatch_is_an_error():
    ref = torch.zeros(2, 3)
    with pytest.raises(ValueError, match='ONNX shape'):
        compare_outputs(['a'], [ref], [np.zeros((3, 2), np.float32)])
    with pytest.raises(ValueError, match='2 ONNX outputs for 1'):
        compare_outputs(['a'], [ref], [np.zeros((2, 3))] * 2)
