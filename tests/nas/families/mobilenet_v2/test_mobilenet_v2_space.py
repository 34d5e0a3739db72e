"""Search space: validation, gene encoding, seed arch, yaml, registry ops."""
import copy
import random

import pytest
import torch

from detnas.nas.families.mobilenet_v2 import MobileNetV2SearchSpace, mobilenet_v2_search_space
from detnas.nas.space import dump_arch_yaml, load_arch_yaml
from detnas.registry import SEARCH_OPS
from detnas.utils.errors import DetnasInputError

SEED_WIDTHS = [16, 24, 32, 64, 96, 160, 320]
SEED_DEPTHS = [1, 2, 3, 4, 3, 3, 1]


def _space(changes=None):
    cfg = mobilenet_v2_search_space()
    for (stage, key), value in (changes or {}).items():
        cfg['stages'][stage][key] = value
    return MobileNetV2SearchSpace.from_config(cfg)


def test_gene_choice_counts_follow_the_config():
    space = _space()
    names, counts = space.gene_names, space.gene_choices
    n = dict(zip(names, counts))
    assert n['stage1.width'] == 3 and n['stage1.depth'] == 3  # widths [16,24,32], depth 1..3
    assert n['stage0.layer0.op'] == 3  # kernels {3,5,7} x expand {1}, no skip
    assert n['stage1.layer0.op'] == 9  # 3 kernels x 3 expansions, first layer: no skip
    assert n['stage1.layer2.op'] == 10  # ... plus skip
    # per stage: width, depth and one op gene per layer of the max depth
    assert len(counts) == sum(2 + d for d in [1, 3, 4, 4, 4, 4, 1])


def test_seed_arch_is_in_the_space_with_kernel3_expand6():
    space = _space()
    arch = space.seed_arch()
    assert [s['width'] for s in arch['stages']] == SEED_WIDTHS
    assert [s['depth'] for s in arch['stages']] == SEED_DEPTHS
    genes = space.encode(arch)
    n = dict(zip(space.gene_names, genes))
    # widths [16, 24, 32] -> 24 is index 1; depth 1..3 -> 2 is index 1
    assert n['stage1.width'] == 1 and n['stage1.depth'] == 1
    # op index = kernel index * 3 + expand index: kernel 3 (0), expand 6 (2) -> 2
    assert n['stage1.layer0.op'] == 2 and n['stage1.layer1.op'] == 2
    assert n['stage1.layer2.op'] == 0  # past the seed depth: unused, canonical 0
    assert n['stage0.layer0.op'] == 0  # kernel 3, expand 1
    assert space.decode(genes) == arch


def test_decode_encode_round_trip_on_random_genes():
    space = _space()
    rng = random.Random(0)
    for _ in range(50):
        genes = space.sample_genes(rng)
        arch = space.decode(genes)
        again = space.encode(arch)
        assert space.decode(again) == arch
        pos = 0
        for st, s in zip(space.stages, arch['stages']):
            live = 2 + s['depth']
            assert again[pos:pos + live] == genes[pos:pos + live]
            assert again[pos + live:pos + 2 + st.max_depth] == [0] * (st.max_depth - s['depth'])
            pos += 2 + st.max_depth
        for s in arch['stages']:
            assert len(s['layers']) == s['depth'] and s['layers'][0]['op'] == 'mbconv'


def test_sampling_is_deterministic_and_largest_smallest_are_extremes():
    space = _space()
    a = [space.sample(random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    big, small = space.largest(), space.smallest()
    assert [s['width'] for s in big['stages']] == [16, 32, 40, 80, 112, 192, 320]
    assert [s['depth'] for s in small['stages']] == [1, 1, 2, 3, 2, 2, 1]
    assert all(l['kernel'] == 7 and l['expand_ratio'] in (1, 6)
               for s in big['stages'] for l in s['layers'])
    assert space.validate(big) == big and space.validate(small) == small


def test_fingerprint_identifies_equal_networks():
    space = _space()
    arch = space.seed_arch()
    skip_last = copy.deepcopy(arch)
    skip_last['stages'][2]['layers'][2] = dict(op='skip')  # 3 layers, last one skipped ...
    shorter = copy.deepcopy(arch)
    shorter['stages'][2]['depth'] = 2  # ... is the same network as depth 2
    shorter['stages'][2]['layers'] = shorter['stages'][2]['layers'][:2]
    assert space.fingerprint(skip_last) == space.fingerprint(shorter)
    other = copy.deepcopy(arch)
    other['stages'][2]['layers'][0]['kernel'] = 5
    assert space.fingerprint(other) != space.fingerprint(arch)


@pytest.mark.parametrize('changes, words', [
    ({(1, 'widths'): []}, r'stages\[1\]\.widths must be a non-empty'),
    ({(2, 'kernels'): [3, 4]}, r'stages\[2\]\.kernels: kernels must be odd'),
    ({(3, 'op'): 'no_such_op'}, r"stages\[3\]\.op: unknown op 'no_such_op'"),
    ({(3, 'op'): 'yolov7_elan'}, r'registered but the MobileNetV2 space supports'),
    ({(1, 'depth'): (3, 2)}, r'stages\[1\]\.depth must be \(min, max\)'),
    ({(1, 'expand_ratios'): [1, 6]}, r'ratio 1 .* cannot be mixed'),
    ({(1, 'widths'): [16, 20]}, r'multiples of 8'),
    ({(1, 'width'): [24]}, r"unknown key\(s\) \['width'\]"),
    # the seed (24 channels, kernel 3, depth 4 in stage 3, expand 6) must fit
    ({(1, 'widths'): [16, 32]}, r'seed .* arch.stages\[1\]\.width = 24 .*stages\[1\]\.widths'),
    ({(2, 'kernels'): [5, 7]}, r'seed .* arch.stages\[2\]\.layers\[0\]'),
    ({(3, 'depth'): (2, 3)}, r'seed .* arch.stages\[3\]\.depth = 4'),
])
def test_bad_space_names_the_key(changes, words):
    with pytest.raises(DetnasInputError, match=words):
        _space(changes)


def test_bad_space_shape_and_bad_arch():
    with pytest.raises(DetnasInputError, match='has 2 entries but the seed has 7'):
        MobileNetV2SearchSpace.from_config(dict(stages=mobilenet_v2_search_space()['stages'][:2]))
    with pytest.raises(DetnasInputError, match='"stages"'):
        MobileNetV2SearchSpace.from_config(dict(blocks=[]))
    space = _space()
    arch = space.seed_arch()
    arch['stages'][4]['layers'][1]['kernel'] = 9
    with pytest.raises(DetnasInputError, match=r'arch.stages\[4\]\.layers\[1\]'):
        space.encode(arch)
    arch = space.seed_arch()
    arch['stages'][1]['layers'][0] = dict(op='skip')  # the first layer cannot be skipped
    with pytest.raises(DetnasInputError, match=r'arch.stages\[1\]\.layers\[0\]'):
        space.encode(arch)
    with pytest.raises(DetnasInputError, match='out of range'):
        space.decode([99] * len(space.gene_choices))


def test_seed_check_can_be_disabled():
    cfg = mobilenet_v2_search_space()
    cfg['stages'][1]['widths'] = [16, 32]
    space = MobileNetV2SearchSpace.from_config(cfg, require_seed=False)
    with pytest.raises(DetnasInputError, match='does not fit'):
        space.seed_arch()


def test_arch_yaml_round_trip_and_errors(tmp_path):
    space = _space()
    arch = space.sample(random.Random(3))
    path = str(tmp_path / 'arch.yaml')
    dump_arch_yaml(arch, path)
    text = open(path).read()
    assert text.startswith('stages:') and 'expand_ratio' in text
    assert load_arch_yaml(path, space) == arch
    (tmp_path / 'bad.yaml').write_text('stages: [width: 1\n')
    with pytest.raises(DetnasInputError, match='not valid yaml'):
        load_arch_yaml(str(tmp_path / 'bad.yaml'))
    (tmp_path / 'out.yaml').write_text(text.replace('kernel: 3', 'kernel: 11', 1)
                                       if 'kernel: 3' in text else
                                       text.replace('kernel: 5', 'kernel: 11', 1))
    with pytest.raises(DetnasInputError, match='out.yaml.*not in the search space'):
        load_arch_yaml(str(tmp_path / 'out.yaml'), space)


def test_layer_ops_build_from_the_registry():
    torch.manual_seed(0)
    x = torch.randn(2, 24, 16, 16)
    op = SEARCH_OPS.build(dict(type='mbconv', in_channels=24, out_channels=40, stride=2,
                               kernel_size=5, expand_ratio=4)).eval()
    assert op(x).shape == (2, 40, 8, 8)
    mid = 24 * 4  # expand 1x1 + depthwise 5x5 + linear 1x1, each with a BN (2 params per ch)
    assert sum(p.numel() for p in op.parameters()) == (24 * mid + 2 * mid + 25 * mid + 2 * mid
                                                       + mid * 40 + 2 * 40)
    skip = SEARCH_OPS.build(dict(type='skip', in_channels=24, out_channels=24, stride=1))
    assert torch.equal(skip(x), x)
    with pytest.raises(ValueError, match='stride 1 and in_channels == out_channels'):
        SEARCH_OPS.build(dict(type='skip', in_channels=24, out_channels=24, stride=2))
