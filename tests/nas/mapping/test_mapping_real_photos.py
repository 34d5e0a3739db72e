"""Real-data check: the bundled ImageNet MobileNetV2 mapped into other architectures keeps
its predictions on real photos; function-preserving maps keep all of them."""
import pytest

from detnas.checkpoints.imagenet import PHOTO_CLASSES
from detnas.checkpoints.sources import load_seed
from detnas.models.backbones.adapted_mobilenet_v2 import AdaptedMobileNetV2
from detnas.nas.mapping import (MappingConfig, imagenet_logits, load_real_photos,
                                map_weights, topk_agreement)

BASE = [[1, 16, 1, 1, 3], [6, 24, 2, 2, 3], [6, 32, 3, 2, 3], [6, 64, 4, 2, 3],
        [6, 96, 3, 1, 3], [6, 160, 3, 2, 3], [6, 320, 1, 1, 3]]


def _arch(widths=None, depths=None, kernels=None, ratios=None):
    rows = []
    for i, (e, c, n, s, k) in enumerate(BASE):
        rows.append([ratios[i] if ratios else e, widths[i] if widths else c,
                     depths[i] if depths else n, s, kernels[i] if kernels else k])
    return rows


# name -> (backbone kwargs, mapping config, function-preserving?)
TARGETS = {
    'wider_net2net': (dict(arch_setting=_arch(widths=[24, 32, 48, 96, 144, 240, 480]),
                           stem_channels=48, last_channels=1920), {}, True),
    'deeper_identity': (dict(arch_setting=_arch(depths=[2, 3, 4, 5, 4, 4, 2])),
                        dict(deepen='identity'), True),
    'kernel5_expand8': (dict(arch_setting=_arch(kernels=[5] * 7,
                                                ratios=[2, 8, 8, 8, 8, 8, 8])), {}, True),
    'narrower_l1': (dict(arch_setting=_arch(widths=[16, 16, 24, 48, 72, 120, 240]),
                         last_channels=960), {}, False),
}


@pytest.fixture(scope='module')
def seed_and_photos():
    seed = load_seed('detnas://mobilenet_v2_imagenet')
    photos = load_real_photos()
    backbone = AdaptedMobileNetV2(out_indices=(7, ))
    backbone.load_state_dict(seed.backbone)
    return seed, photos, imagenet_logits(backbone, seed.classifier, list(photos.values()))


def test_seed_recognises_the_photos(seed_and_photos):
    _, photos, logits = seed_and_photos
    top5 = logits.topk(5, 1).indices
    names = list(photos)
    for name, classes in PHOTO_CLASSES.items():
        assert set(top5[names.index(name)].tolist()) & set(classes), name


@pytest.mark.parametrize('name', list(TARGETS))
def test_mapped_target_agreement(seed_and_photos, name):
    seed, photos, seed_logits = seed_and_photos
    kwargs, cfg, exact = TARGETS[name]
    target = AdaptedMobileNetV2(out_indices=(7, ), **kwargs)
    result = map_weights(seed, target, MappingConfig(**cfg), target_state=target.state_dict())
    target.load_state_dict(result.state_dict)
    logits = imagenet_logits(target, result.classifier, list(photos.values()))
    agree = topk_agreement(seed_logits, logits)
    if exact:
        assert agree['top1'] == 1.0 and agree['top5'] == 1.0
        assert agree['max_rel_diff'] <= 1e-4
    else:  # lossy (numbers in bench/results/mapping_quality.json): outputs do change
        assert agree['max_rel_diff'] > 1e-3
