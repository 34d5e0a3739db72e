"""detnas.deploy.custom_ops: the fusion op exports as standard ops around GridSample, and
onnxruntime reproduces the compiled kernel, offsets past the border included."""
import onnx
import pytest
import torch

from detnas.deploy import onnx_exportable_ops, ort_session, run_session
from detnas.ops import DilatedDeformFusion, has_kernel

# the TorchScript exporter's deprecation notice; the reference's constant tables
pytestmark = [pytest.mark.filterwarnings('ignore::DeprecationWarning'),
              pytest.mark.filterwarnings('ignore::torch.jit.TracerWarning')]


def _fusion(groups=2, softmax=False, seed=0):
    torch.manual_seed(seed)
    m = DilatedDeformFusion(8, dilations=(1, 3), kernel_size=3, groups=groups,
                            softmax=softmax).eval()
    with torch.no_grad():  # offsets of several pixels (past the border), uneven weights
        m.offset_pw.weight.normal_(0, 1.5)
        m.offset_pw.bias.normal_(0, 1.0)
    return m


def _export(module, x, path, opset=16):
    with onnx_exportable_ops(module) as routed, torch.no_grad():
        torch.onnx.export(module, (x, ), path, dynamo=False, opset_version=opset,
                          input_names=['x'], output_names=['out'])
    return routed


@pytest.mark.parametrize('groups,softmax', [(2, False), (1, True)])
def test_onnxruntime_reproduces_the_kernel(tmp_path, groups, softmax):
    assert has_kernel('cpu')
    module = _fusion(groups, softmax)
    x = torch.randn(2, 8, 11, 13, generator=torch.Generator().manual_seed(1))
    path = str(tmp_path / 'ddf.onnx')
    assert _export(module, x, path) == ['']  # the module itself was routed
    with torch.no_grad():
        expected = module(x)  # the compiled kernel again
        offsets = module.offset_pw(module.offset_dw(x))[:, :2 * 18 * groups]
    assert offsets.abs().max() > 3  # some samples fall outside the 11x13 map
    got = torch.from_numpy(run_session(ort_session(path), x)[0])
    scale = expected.abs().max().item()
    assert scale > 0.5
    assert (got - expected).abs().max().item() <= 1e-5 * scale
    nodes = onnx.load(path).graph.node
    assert sum(n.op_type == 'GridSample' for n in nodes) == 1
    assert all(n.domain in ('', 'ai.onnx') for n in nodes)


def test_without_the_onnx_form_the_kernel_cannot_be_exported(tmp_path):
    module = _fusion()
    with pytest.raises(RuntimeError, match='DilatedDeformFusionFunction'):
        torch.onnx.export(module, (torch.randn(1, 8, 6, 6), ), str(tmp_path / 'k.onnx'),
                          dynamo=False, opset_version=16)


def test_modules_are_restored_after_an_error():
    model = torch.nn.Sequential(_fusion(), torch.nn.ReLU(), _fusion(seed=1))
    with pytest.raises(KeyError):
        with onnx_exportable_ops(model) as routed:
            assert routed == ['0', '2']
            assert not model[0].use_kernel and not model[2].use_kernel
            raise KeyError('boom')
    assert model[0].use_kernel and model[2].use_kernel
    with onnx_exportable_ops(torch.nn.Conv2d(1, 1, 1)) as routed:
        assert routed == []
