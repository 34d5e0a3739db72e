"""AdaptedMobileNetV2 with the seed's settings is mmdet's MobileNetV2; bad tables fail."""
import pytest
import torch
from mmdet.models.backbones import MobileNetV2

from detnas.models.backbones.adapted_mobilenet_v2 import AdaptedMobileNetV2


def _randomize_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.mark.parametrize('widen_factor', [1.0, 0.5])
def test_seed_settings_equal_mmdet_mobilenet_v2(widen_factor):
    torch.manual_seed(0)
    ref = MobileNetV2(widen_factor=widen_factor, out_indices=(0, 1, 2, 4, 7))
    ref.init_weights()
    _randomize_bn(ref)
    ours = AdaptedMobileNetV2(widen_factor=widen_factor, out_indices=(0, 1, 2, 4, 7))
    sd = ref.state_dict()
    assert list(sd) == list(ours.state_dict())
    ours.load_state_dict(sd)
    ref.eval()
    ours.eval()
    x = torch.randn(2, 3, 64, 64)
    outs = ref(x)
    for a, b in zip(outs, ours(x)):
        assert torch.equal(a, b)
    assert ours.out_channels == tuple(o.shape[1] for o in outs)


def test_per_block_settings_shapes():
    arch = [[1, 16, 1, 1], [[6, 4], 24, 2, 2, [5, 7]], [3, 40, 3, 2, 3, 2]]
    m = AdaptedMobileNetV2(arch_setting=arch, last_channels=64, out_indices=(1, 2, 3)).eval()
    sd = m.state_dict()
    assert sd['layer2.0.depthwise_conv.conv.weight'].shape == (96, 1, 5, 5)
    assert sd['layer2.1.depthwise_conv.conv.weight'].shape == (96, 1, 7, 7)  # 24 * 4
    assert m.layer3[1].depthwise_conv.conv.dilation == (2, 2)
    outs = m(torch.randn(1, 3, 64, 64))
    assert [o.shape[1:] for o in outs] == [(24, 16, 16), (40, 8, 8), (64, 8, 8)]
    assert m.out_channels == (24, 40, 64)


@pytest.mark.parametrize('arch, words', [
    ([[1, 16, 1, 1], [6, 0, 2, 2]], 'layer2'),
    ([[1, 16, 0, 1]], 'num_blocks'),
    ([[1, 16, 1, 1], [[6, 6, 6], 24, 2, 2]], 'expand_ratio lists 3'),
    ([[1, 16, 1, 1, 4]], 'odd'),
    ([[1, 16, 1]], 'expected'),
])
def test_bad_arch_names_the_stage(arch, words):
    with pytest.raises(ValueError, match=words):
        AdaptedMobileNetV2(arch_setting=arch, out_indices=(0, ))
