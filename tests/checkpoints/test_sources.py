import pytest
import torch
from mmdet.models.backbones import MobileNetV2, ResNet

from detnas.checkpoints.converters import convert_checkpoint, detect_layout
from detnas.datasets.demo_coco import load_photo
from detnas.checkpoints.imagenet import PHOTO_CLASSES, ImageNetClassifier, topk_classes
from detnas.checkpoints.sources import SEED_ALIASES, SeedAlias, SeedNotFoundError, load_seed
from detnas.utils.errors import DetnasInputError


@pytest.fixture(scope='module')
def mbv2_seed():
    return load_seed('detnas://mobilenet_v2_imagenet')


def test_bundled_seed_converts_key_for_key(mbv2_seed):
    backbone = MobileNetV2(out_indices=(7, ))
    target = backbone.state_dict()
    assert set(mbv2_seed.backbone) == set(target) and not mbv2_seed.unused
    for k, v in target.items():
        assert mbv2_seed.backbone[k].shape == v.shape, k
    assert mbv2_seed.classifier['fc.weight'].shape == (1000, 1280)


def test_imagenet_top5_on_real_photos(mbv2_seed):
    """The converted seed classifies bundled real photos: proof the load is right."""
    backbone = MobileNetV2(out_indices=(7, ))
    backbone.load_state_dict(mbv2_seed.backbone)
    model = ImageNetClassifier(backbone, mbv2_seed.classifier)
    names = list(PHOTO_CLASSES)
    top5 = topk_classes(model, [load_photo(n) for n in names])
    for name, row in zip(names, top5.tolist()):
        assert set(row) & set(PHOTO_CLASSES[name]), (name, row)
    # the cat photo's top-1 is a cat class, not just somewhere in the top 5
    assert top5[0, 0].item() in PHOTO_CLASSES['chelsea']


def _rename_mmdet_to_timm(sd):
    """Independent inverse of the timm converter (written from timm's naming)."""
    out = {}
    stage_parts = {'expand_conv': ('conv_pw', 'bn1'), 'depthwise_conv': ('conv_dw', 'bn2'),
                   'linear_conv': ('conv_pwl', 'bn3')}
    first_parts = {'depthwise_conv': ('conv_dw', 'bn1'), 'linear_conv': ('conv_pw', 'bn2')}
    for k, v in sd.items():
        parts = k.split('.')
        if parts[0] in ('conv1', 'conv2'):
            conv, bn = ('conv_stem', 'bn1') if parts[0] == 'conv1' else ('conv_head', 'bn2')
            out[(conv if parts[1] == 'conv' else bn) + '.' + parts[2]] = v
            continue
        stage = int(parts[0][5:]) - 1
        table = first_parts if stage == 0 else stage_parts
        conv, bn = table[parts[2]]
        out[f'blocks.{stage}.{parts[1]}.{conv if parts[3] == "conv" else bn}.{parts[4]}'] = v
    return out


def test_timm_and_mmpretrain_layouts_give_the_same_tensors(mbv2_seed):
    timm_sd = _rename_mmdet_to_timm(mbv2_seed.backbone)
    timm_sd['classifier.weight'] = mbv2_seed.classifier['fc.weight']
    assert detect_layout(timm_sd) == ('mobilenet_v2', 'timm')
    back = convert_checkpoint(timm_sd)
    assert back.backbone.keys() == mbv2_seed.backbone.keys() and not back.unused
    assert all(torch.equal(back.backbone[k], v) for k, v in mbv2_seed.backbone.items())
    # mmpretrain: Sequential 'conv.K' blocks under 'backbone.'
    mmpre = {}
    for k, v in mbv2_seed.backbone.items():
        for i, name in enumerate(('expand_conv', 'depthwise_conv', 'linear_conv')):
            if f'.{name}.' in k:
                offset = 1 if k.startswith('layer1.') else 0
                k = k.replace(f'.{name}.', f'.conv.{i - offset}.')
        mmpre['backbone.' + k] = v
    assert detect_layout(mmpre) == ('mobilenet_v2', 'mmpretrain')
    back = convert_checkpoint(mmpre)
    assert all(torch.equal(back.backbone[k], v) for k, v in mbv2_seed.backbone.items())


@pytest.mark.parametrize('depth', [18, 50])
def test_resnet_layouts(depth):
    model = ResNet(depth=depth)
    sd = {k: torch.randn_like(v.float()) for k, v in model.state_dict().items()}
    tv = dict(sd, **{'fc.weight': torch.randn(1000, 4), 'fc.bias': torch.randn(1000)})
    out = convert_checkpoint(tv)
    assert out.layout == 'torchvision' and set(out.backbone) == set(sd)
    assert set(out.classifier) == {'fc.weight', 'fc.bias'}
    mmpre = {'backbone.' + k: v for k, v in sd.items()}
    mmpre['head.fc.weight'] = tv['fc.weight']
    out = convert_checkpoint(mmpre)
    assert out.layout == 'mmpretrain' and all(torch.equal(out.backbone[k], v)
                                              for k, v in sd.items())
    model.load_state_dict(out.backbone)  # strict


def test_seed_errors_name_the_fix(monkeypatch, tmp_path):
    with pytest.raises(SeedNotFoundError, match='mobilenet_v2_imagenet'):
        load_seed('detnas://no_such_seed')
    monkeypatch.setitem(SEED_ALIASES, 'missing_pkg', SeedAlias(
        package='detnas_no_such_package', relpath='w.pth', install='pip install xyz',
        family='mobilenet_v2', layout='torchvision', description=''))
    with pytest.raises(SeedNotFoundError, match='pip install xyz'):
        load_seed('detnas://missing_pkg')
    with pytest.raises(SeedNotFoundError, match='nope.pth'):
        load_seed(str(tmp_path / 'nope.pth'))
    bad = tmp_path / 'broken.pth'
    bad.write_bytes(b'not a checkpoint')
    with pytest.raises(DetnasInputError, match='broken.pth'):
        load_seed(str(bad))
    foreign = tmp_path / 'foreign.pth'
    torch.save({'encoder.weight': torch.zeros(2)}, foreign)
    with pytest.raises(DetnasInputError, match='cannot tell the layout'):
        load_seed(str(foreign))
