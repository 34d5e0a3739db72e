"""tools/analysis/benchmark.py --onnx: the network timed in onnxruntime beside PyTorch."""
import json

import pytest
from deploy_helpers import RETINANET, detector
from helpers import load_script

from detnas.deploy import export_onnx
from detnas.utils.errors import DetnasInputError


def _benchmark():
    return load_script('tools/analysis/benchmark.py')


def test_onnx_exported_on_the_fly_is_timed_beside_pytorch(capsys):
    _benchmark().main([RETINANET, '--shape', '64', '80', '--iters', '2', '--warmup', '1',
                       '--threads', '1', '--onnx', '--json'])
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    net = result['network']
    assert net['input'] == [1, 3, 64, 96]  # padded to the preprocessor's multiple of 32
    assert net['onnx'] == '(exported now)'
    for side in ('pytorch', 'onnxruntime'):
        assert 0 < net[side]['min_ms'] <= net[side]['median_ms']
    assert net['speedup'] == pytest.approx(
        net['pytorch']['median_ms'] / net['onnxruntime']['median_ms'])
    assert result['fps'] > 0 and result['shape'] == [64, 80]  # the predict path as before


def test_a_given_file_must_have_the_benchmarks_shape(tmp_path, capsys):
    path = str(tmp_path / 'r.onnx')
    export_onnx(detector(RETINANET), path, (64, 64))
    tool = _benchmark()
    tool.main([RETINANET, '--shape', '64', '64', '--iters', '1', '--warmup', '0', '--onnx',
               path])
    printed = capsys.readouterr().out
    assert 'network only (no decoding/NMS), input [1, 3, 64, 64]: PyTorch' in printed
    assert path in printed
    with pytest.raises(DetnasInputError, match=r'takes input \[1, 3, 64, 64\] but --shape '
                       r'gives \[1, 3, 128, 128\].*pass --shape 64 64'):
        tool.main([RETINANET, '--shape', '128', '128', '--iters', '1', '--onnx', path])
    with pytest.raises(DetnasInputError, match=r"--onnx '.*none.onnx' does not exist"):
        tool.main([RETINANET, '--iters', '1', '--onnx', str(tmp_path / 'none.onnx')])
    with pytest.raises(DetnasInputError, match=r"--onnx takes a .onnx file, got '.*x.pth'"):
        tool.main([RETINANET, '--iters', '1', '--onnx', str(tmp_path / 'x.pth')])
