"""tools/analysis/get_flops.py against published MobileNetV2 figures."""
import json

from helpers import run_tool

CFG = 'configs/baselines/retinanet_mbv2_fpn_demo.py'


def _flops(*args):
    proc = run_tool(['tools/analysis/get_flops.py', CFG, '--json', *args])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_mobilenet_v2_backbone_matches_the_paper():
    out = _flops('--part', 'backbone', '--shape', '224', '224')
    # Sandler et al. 2018: 3.4 M params / 300 M multiply-adds with the classifier;
    # torchvision's file has 3,504,872 params, of which the 1280x1000 classifier is 1,281,000
    assert out['params'] == 3_504_872 - 1_281_000
    # the classifier adds 1.28 M multiply-adds; the rest is the backbone (~299 M)
    assert abs(out['macs'] - (300e6 - 1.28e6)) / 300e6 < 0.03
    assert abs(out['gflops'] - 2 * out['macs'] / 1e9) < 1e-9


def test_whole_detector_counts_exceed_the_backbone():
    model = _flops('--shape', '320')
    backbone = _flops('--part', 'backbone', '--shape', '320')
    assert model['shape'] == [320, 320]
    assert model['params'] > backbone['params'] and model['macs'] > backbone['macs']


def test_bad_shape_is_a_clear_error():
    proc = run_tool(['tools/analysis/get_flops.py', CFG, '--shape', '1', '2', '3'])
    assert proc.returncode == 2 and '--shape takes H W' in proc.stderr
