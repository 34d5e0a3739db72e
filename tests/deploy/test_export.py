"""detnas.deploy.export: the demo detectors, a searched backbone and the fusion-op detector
exported to ONNX reproduce PyTorch in onnxruntime to 1e-4 of each output's scale."""
import onnx
import pytest
import torch
from deploy_helpers import (DDF, GFOCAL, RETINANET, SEARCHED_CHANNELS, detector,
                            image_batch)

from detnas.deploy import check_onnx, export_onnx
from detnas.deploy.export import MAX_OPSET
from detnas.models.backbones.adapted_mobilenet_v2 import AdaptedMobileNetV2
from detnas.ops import DilatedDeformFusion, has_kernel
from detnas.utils.errors import DetnasInputError

LEVELS = range(5)


def _export_and_check(model, tmp_path, size=128, opset=17):
    path = str(tmp_path / 'model.onnx')
    info = export_onnx(model, path, (size, size), opset)
    result = check_onnx(model, path, image_batch(size))
    # the check's verdict, and the numbers behind it asserted here as well
    assert result.passed, result.summary()
    for out in result.outputs:
        assert out.max_abs_diff <= 1e-4 * out.scale, (out.name, out.max_abs_diff, out.scale)
    assert result.scale > 0.1  # not near-zero outputs: the tolerance means something
    print(f'{type(model).__name__}: {result.summary()}')
    return path, info, result


def _op_types(path):
    return {node.op_type for node in onnx.load(path).graph.node}


def test_retinanet_demo(tmp_path):
    model = detector(RETINANET)
    path, info, result = _export_and_check(model, tmp_path)
    # 9 anchors x 6 classes and 9 x 4 deltas per location; strides 8..128 on 128 px
    expected = {f'cls_score_{i}': (1, 54, 16 >> i, 16 >> i) for i in LEVELS}
    expected.update({f'bbox_pred_{i}': (1, 36, 16 >> i, 16 >> i) for i in LEVELS})
    assert info.outputs == expected
    assert [o.name for o in result.outputs] == list(expected)  # the graph's own names
    assert info.routed_ops == [] and 'GridSample' not in _op_types(path)
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert meta['detnas.strides'] == '8,16,32,64,128'
    assert meta['detnas.mean'] == '123.675,116.28,103.53' and meta['detnas.bgr_to_rgb'] == 'True'
    assert meta['detnas.outputs'].split(',') == list(expected)


def test_gfocalv2_demo(tmp_path):
    model = detector(GFOCAL, seed=1)
    _, info, _ = _export_and_check(model, tmp_path)
    # one prior per location: 6 class scores (probabilities, IoU-weighted) and 4 x 17 bins
    assert info.outputs['cls_score_0'] == (1, 6, 16, 16)
    assert info.outputs['bbox_pred_4'] == (1, 68, 1, 1)
    assert len(info.outputs) == 10


def test_searched_adapted_mobilenet_v2(tmp_path):
    model = detector(RETINANET, seed=2, searched_backbone=True)
    assert isinstance(model.backbone, AdaptedMobileNetV2)
    assert model.backbone.out_channels == tuple(SEARCHED_CHANNELS)
    kernels = {m.kernel_size for m in model.backbone.modules()
               if isinstance(m, torch.nn.Conv2d)}
    assert {(5, 5), (7, 7)} <= kernels  # not the seed's 3x3-only blocks
    _, info, _ = _export_and_check(model, tmp_path)
    assert info.outputs['cls_score_0'] == (1, 54, 16, 16)


def test_fusion_op_detector(tmp_path):
    model = detector(DDF, seed=3)
    assert has_kernel('cpu')  # PyTorch's side runs the compiled kernel, ONNX the reference
    path, info, result = _export_and_check(model, tmp_path)
    assert info.routed_ops == ['neck.1.context']
    types = _op_types(path)
    assert 'GridSample' in types and not any(t.startswith('detnas') for t in types)
    assert all(n.domain in ('', 'ai.onnx') for n in onnx.load(path).graph.node)
    # the instance is back on the kernel after the export
    assert 'forward' not in vars(model.neck[1].context)
    # the op matters: the same file against a model with other dilation rates fails
    fusion = model.neck[1].context
    assert isinstance(fusion, DilatedDeformFusion)
    fusion.dilations = (1, 2, 4)
    changed = check_onnx(model, path, image_batch(128))
    assert not changed.passed and changed.worst.name.endswith('_0')
    # it is on P3 only: the other levels still match
    assert all(o.passed for o in changed.outputs if not o.name.endswith('_0'))
    assert changed.worst.max_abs_diff > 100 * result.worst.max_abs_diff


def test_highest_opset_and_batch_of_two(tmp_path):
    model = detector(DDF, seed=4)
    path = str(tmp_path / 'b2.onnx')
    info = export_onnx(model, path, (64, 96), MAX_OPSET, batch_size=2)
    assert info.input_shape == (2, 3, 64, 96)
    assert info.outputs['cls_score_0'] == (2, 54, 8, 12)
    assert onnx.load(path).opset_import[0].version == MAX_OPSET
    inputs = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(9))
    result = check_onnx(model, path, inputs)
    assert result.passed, result.summary()


@pytest.mark.parametrize('opset', [15, MAX_OPSET + 1])
def test_opset_outside_the_range_is_refused(tmp_path, opset):
    with pytest.raises(DetnasInputError, match=f'--opset {opset} .* use 16 to {MAX_OPSET}'):
        export_onnx(detector(RETINANET), str(tmp_path / 'x.onnx'), (64, 64), opset)
    assert not (tmp_path / 'x.onnx').exists()


@pytest.mark.slow
@pytest.mark.parametrize('config', [
    'configs/giraffedet/giraffedet_tiny_demo.py',            # S2D-chain backbone + GFPN
    'configs/yolov7/yolov7_tiny_demo.py',                    # ELAN, SPPCSPC, MP, RepConv
    'configs/safpn_seqhead/fcos_mbv2_safpn_seqhead_demo.py',  # SA-FPN + Seq-Head
])
def test_the_other_shipped_families(config, tmp_path):
    from deploy_helpers import ROOT
    _, info, result = _export_and_check(detector(f'{ROOT}/{config}', seed=3), tmp_path)
    assert len(info.outputs) == len(result.outputs) >= 3
