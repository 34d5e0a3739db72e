"""tools/deploy/export_onnx.py (detnas.tools.export): end to end on a saved checkpoint, and
bad input refused with one message that names the file or option and the fix."""
import re
import sys

import onnx
import pytest
import torch
from deploy_helpers import DDF, RETINANET, detector, image_batch
from helpers import run_tool

from detnas.deploy import ort_session, run_session
from detnas.deploy.outputs import flatten_outputs
from detnas.tools.export import main
from detnas.utils.errors import DetnasInputError

TOOL = 'tools/deploy/export_onnx.py'


def _checkpoint(tmp_path, config, seed=0):
    model = detector(config, seed)
    path = tmp_path / 'epoch_1.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return model, str(path)


@pytest.mark.slow
def test_export_and_check_from_the_command_line(tmp_path):
    model, ckpt = _checkpoint(tmp_path, DDF, seed=7)
    out = tmp_path / 'deploy' / 'ddf.onnx'
    proc = run_tool([TOOL, DDF, ckpt, '--out', str(out), '--shape', '96', '128'])
    assert proc.returncode == 0, proc.stderr
    assert 'output cls_score_0 [1, 54, 12, 16]' in proc.stdout
    assert 'GridSample form: neck.1.context' in proc.stdout
    m = re.search(r'PASS, max abs diff (\S+) \(output scale (\S+)\)', proc.stdout)
    assert m, proc.stdout
    diff, scale = float(m[1]), float(m[2])
    assert scale > 0.1 and diff <= 1e-4 * scale
    # the file holds the checkpoint's weights: it matches the model saved above
    x = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(2))
    got = run_session(ort_session(str(out)), x)
    with torch.no_grad():
        expected = flatten_outputs(model(x, mode='tensor'))
    for e, g in zip(expected, got):
        assert (torch.from_numpy(g) - e).abs().max() <= 1e-4 * e.abs().max()
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta['detnas.config'] == 'retinanet_mbv2_fpn_ddf_demo.py'


def test_default_out_is_next_to_the_checkpoint_and_no_check(tmp_path, capsys):
    _, ckpt = _checkpoint(tmp_path, RETINANET)
    main([RETINANET, ckpt, '--shape', '64', '64', '--no-check', '--opset', '16'])
    printed = capsys.readouterr().out
    assert f'wrote {tmp_path / "epoch_1.onnx"}' in printed and 'PASS' not in printed
    proto = onnx.load(str(tmp_path / 'epoch_1.onnx'))
    assert proto.opset_import[0].version == 16
    assert [o.name for o in proto.graph.output][:2] == ['cls_score_0', 'cls_score_1']


def test_bad_input_names_the_file_or_option(tmp_path, monkeypatch):
    _, ckpt = _checkpoint(tmp_path, RETINANET)
    cases = [
        ([RETINANET, str(tmp_path / 'missing.pth')], r"checkpoint '.*missing.pth' does not"),
        ([str(tmp_path / 'none.py'), ckpt], r"config file '.*none.py' does not exist"),
        ([DDF, ckpt], r"checkpoint '.*epoch_1.pth' does not fit the model of '.*ddf_demo"),
        ([RETINANET, ckpt, '--opset', '13'], r'--opset 13 is not supported: use 16 to 20'),
        ([RETINANET, ckpt, '--shape', '0', '64'], r'--shape 0 64: .* must be positive'),
        ([RETINANET, ckpt, '--cfg-options', 'model.neck.out_chanels=8'],
         r"'out_chanels' is not a key of model.neck .* did you mean out_channels"),
    ]
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(open(ckpt, 'rb').read()[:1000])
    cases.append(([RETINANET, str(truncated)], r"cannot read checkpoint '.*truncated.pth'"))
    for argv, message in cases:
        with pytest.raises(DetnasInputError, match=message):
            main(argv + ['--out', str(tmp_path / 'x.onnx')])
    assert not (tmp_path / 'x.onnx').exists()
    # onnxruntime missing: the check needs it, --no-check does not
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(DetnasInputError, match=r'onnxruntime is needed to check the export '
                       r'\(or pass --no-check\).*pip install detnas\[deploy\]'):
        main([RETINANET, ckpt, '--out', str(tmp_path / 'x.onnx')])
    assert not (tmp_path / 'x.onnx').exists()


@pytest.mark.slow
def test_missing_onnx_is_one_line_with_the_install_command(tmp_path):
    fake = tmp_path / 'site' / 'onnx'
    fake.mkdir(parents=True)
    (fake / '__init__.py').write_text("raise ImportError('No module named onnx (test)')\n")
    proc = run_tool([TOOL, RETINANET, str(tmp_path / 'any.pth')],
                    env={'PYTHONPATH': str(tmp_path / 'site')})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        'error: onnx is needed to export to ONNX but cannot be imported (No module named '
        'onnx (test)); install it with: pip install detnas[deploy] (in a checkout: pip '
        'install -c constraints.txt -r requirements/deploy.txt)']


PLUGIN = '''
from mmdet.models.necks import FPN
from mmdet.registry import MODELS


@MODELS.register_module(force=True)
class DoubledFPN(FPN):
    def forward(self, inputs):
        return tuple(2 * x for x in super().forward(inputs))
'''


def test_custom_imports_of_the_config_are_imported(tmp_path, monkeypatch, capsys):
    (tmp_path / 'export_plugin_x.py').write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / 'doubled.py'
    config.write_text(f"_base_ = '{RETINANET}'\n"
                      "custom_imports = dict(imports=['export_plugin_x'])\n"
                      "model = dict(neck=dict(type='DoubledFPN'))\n")
    _, ckpt = _checkpoint(tmp_path, RETINANET)  # same keys: the FPN's
    main([str(config), ckpt, '--shape', '64', '64', '--out', str(tmp_path / 'd.onnx')])
    assert 'PASS' in capsys.readouterr().out
    assert 'export_plugin_x' in sys.modules
    # the file computes the doubled neck: it differs from the plain detector's outputs
    plain = detector(RETINANET)
    x = image_batch(64)
    with torch.no_grad():
        expected = flatten_outputs(plain(x, mode='tensor'))
    got = run_session(ort_session(str(tmp_path / 'd.onnx')), x)
    assert (torch.from_numpy(got[0]) - expected[0]).abs().max() > 1e-2
