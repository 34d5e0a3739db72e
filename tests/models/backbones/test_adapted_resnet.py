"""AdaptedResNet is mmdet's ResNet (same keys, same function) with the published parameter
counts."""
import pytest
import torch
from helpers import close, random_input, seed_resnet

from detnas.models.backbones import AdaptedResNet
from detnas.utils.complexity import count_params


@pytest.mark.parametrize('depth', [18, 50])
def test_adapted_resnet_is_mmdet_resnet(depth):
    ref = seed_resnet(depth)
    net = AdaptedResNet(depth=depth).eval()
    assert list(net.state_dict()) == list(ref.state_dict())
    net.load_state_dict(ref.state_dict())
    x = random_input()
    with torch.no_grad():
        for a, b in zip(net(x), ref(x)):
            assert a.shape == b.shape and close(a, b)


def test_adapted_resnet_published_parameter_counts():
    # torchvision's ResNet-18 / -50 have 11,689,512 / 25,557,032 parameters with the
    # ImageNet classifier (512 * 1000 + 1000 and 2048 * 1000 + 1000 of them)
    assert count_params(AdaptedResNet(depth=18)) == 11_689_512 - 513_000
    assert count_params(AdaptedResNet(depth=50)) == 25_557_032 - 2_049_000
