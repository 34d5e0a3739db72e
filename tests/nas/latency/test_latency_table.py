"""Latency lookup table: measure-once, prediction, file round trip, the predictor check."""
import pytest
import torch
from torch import nn

from detnas.nas.latency import LatencyCase, LatencyTable, LatencyTableError, check_predictor

SIZE = 24  # input height and width of every test network


def conv_layer(signature):
    """Factory: ('conv', c_in, c_out, kernel, size) -> (conv + BN + ReLU, its input)."""
    _, c_in, c_out, kernel, size = signature
    layer = nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                          nn.BatchNorm2d(c_out), nn.ReLU())
    return layer, torch.randn(1, c_in, size, size)


def conv_net(width, depth, kernel=3):
    """A stack of ``depth`` conv layers of ``width`` channels on a 3-channel input."""
    signatures, channels = [], 3
    for _ in range(depth):
        signatures.append(('conv', channels, width, kernel, SIZE))
        channels = width
    layers = [conv_layer(s)[0] for s in signatures]
    return nn.Sequential(*layers), torch.randn(1, 3, SIZE, SIZE), signatures


def test_each_signature_measured_once_and_prediction_is_sum():
    built = []

    def factory(signature):
        built.append(signature)
        return conv_layer(signature)

    table = LatencyTable(factory, warmup=1, repeats=3)
    _, _, sigs = conv_net(8, 4)  # first layer 3->8, then 8->8 three times
    assert table.measure(sigs + sigs) == 2
    assert sorted(built) == sorted(set(sigs))
    assert table.predict(sigs) == pytest.approx(table.entries[sigs[0]] +
                                                3 * table.entries[sigs[1]])
    assert all(ms > 0 for ms in table.entries.values())
    # a missing signature is measured on demand when the table has a factory
    extra = ('conv', 8, 16, 5, SIZE)
    assert extra not in table and table.lookup(extra) > 0 and extra in table
    assert len(built) == 3


def test_missing_signature_without_factory_is_an_error():
    table = LatencyTable(entries={('conv', 3, 8, 3, SIZE): 0.1})
    assert table.predict([('conv', 3, 8, 3, SIZE)] * 2) == pytest.approx(0.2)
    with pytest.raises(LatencyTableError, match=r"\('conv', 8, 8, 3, 24\)"):
        table.predict([('conv', 8, 8, 3, SIZE)])


def test_table_file_round_trip_keeps_environments_apart(tmp_path):
    path = str(tmp_path / 'lut.json')
    one = LatencyTable(conv_layer, threads=1, warmup=1, repeats=3)
    one.measure([('conv', 3, 8, 3, SIZE), ('conv', 8, 8, 3, SIZE)])
    one.save(path)
    two = LatencyTable(entries={('conv', 3, 8, 3, SIZE): 5.0}, threads=2)
    two.save(path)  # another environment: merged into the same file
    loaded = LatencyTable.load(path, threads=1)
    assert loaded.entries == one.entries and loaded.key == one.key
    assert LatencyTable.load(path, threads=2).entries == {('conv', 3, 8, 3, SIZE): 5.0}
    assert len(LatencyTable.load(path, threads=3)) == 0  # unknown environment: empty
    with open(path, 'w') as f:
        f.write('{"format": "detnas-latency-lut", "tables": {')
    with pytest.raises(LatencyTableError, match='corrupt.*delete it'):
        LatencyTable.load(path)


def test_nested_signatures_survive_json(tmp_path):
    path = str(tmp_path / 'lut.json')
    sig = ('block', ('dw', 3), (16, 24), None, True)
    LatencyTable(entries={sig: 1.5}).save(path)
    assert LatencyTable.load(path).lookup(sig) == 1.5


def test_predicted_latency_ranks_like_measured():
    table = LatencyTable(conv_layer, threads=1, warmup=3, repeats=15)
    cases = []
    for width, depth in [(4, 1), (8, 2), (16, 2), (32, 3), (64, 3), (96, 4)]:
        module, inputs, sigs = conv_net(width, depth)
        cases.append(LatencyCase(f'w{width}d{depth}', module, inputs, sigs))
    report = check_predictor(table, cases)
    assert [m['name'] for m in report['models']] == [c.name for c in cases]
    assert report['spearman'] > 0.8, report
    assert 'threads 1' in report['key']


class SleepyConv(nn.Module):
    """A conv whose eager forward also sleeps 30 ms: the sleep is Python, not in the graph
    an ONNX export traces."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        import time
        time.sleep(0.03)
        return self.conv(x)


def test_onnxruntime_times_the_exported_graph_not_the_eager_module():
    from detnas.nas.latency import measure_module_ms
    x = torch.randn(1, 3, SIZE, SIZE)
    eager = measure_module_ms(SleepyConv(), x, warmup=1, repeats=3)
    ort = measure_module_ms(SleepyConv(), x, warmup=1, repeats=3, runtime='onnxruntime')
    assert eager >= 30 and ort < 10, (eager, ort)


def test_onnxruntime_table_ranks_like_measured_and_keeps_its_own_key(tmp_path):
    import onnxruntime
    table = LatencyTable(conv_layer, threads=1, warmup=3, repeats=15, runtime='onnxruntime')
    cases = []
    for width, depth in [(4, 1), (16, 2), (64, 3), (128, 4)]:
        module, inputs, sigs = conv_net(width, depth)
        cases.append(LatencyCase(f'w{width}d{depth}', module, inputs, sigs))
    report = check_predictor(table, cases)
    assert report['spearman'] > 0.8, report
    assert f'onnxruntime {onnxruntime.__version__}' in report['key']
    path = str(tmp_path / 'lut.json')
    table.save(path)
    LatencyTable(entries={cases[0].signatures[0]: 9.0}, threads=1).save(path)  # torch's
    assert LatencyTable.load(path, threads=1, runtime='onnxruntime').entries == table.entries
    with pytest.raises(LatencyTableError, match='runtime'):
        LatencyTable(runtime='tensorrt')


def test_latency_settings_check_the_runtime():
    from detnas.nas.pipeline.settings import LatencySettings
    from detnas.utils.errors import DetnasInputError
    assert LatencySettings(runtime='onnxruntime').device == 'cpu'
    with pytest.raises(DetnasInputError, match='search.latency.runtime'):
        LatencySettings(runtime='tvm')
    with pytest.raises(DetnasInputError, match="device='cpu'"):
        LatencySettings(runtime='onnxruntime', device='cuda')
