"""Candidate cost metrics: latency signatures, exact FLOPs/params, constraints, settings."""
import random

import pytest
import torch
from mmengine.config import Config

from detnas.nas.families import bind_family
from detnas.nas.latency import LatencyTable
from detnas.nas.pipeline import (CandidateCost, SearchSettings, parse_constraints,
                                 supernet_backbone_config)
from detnas.utils.errors import DetnasInputError

CFG = 'tests/configs/retinanet_mbv2_search_tiny.py'
SIZE = (64, 48)


@pytest.fixture(scope='module')
def parts():
    cfg = Config.fromfile(CFG)
    family = bind_family(supernet_backbone_config(cfg.model.backbone.to_dict(),
                                                  cfg.search.space.to_dict()))
    space = family.space
    rng = random.Random(0)
    archs = [space.seed_arch(), space.largest(), space.smallest(), space.cheapest()] + [
        space.sample(rng) for _ in range(4)]
    return cfg, family, archs


def test_signatures_match_the_standalone_layers(parts):
    _, family, archs = parts
    everything = set(family.space_signatures(SIZE))
    for arch in archs:
        sigs = family.layer_signatures(arch, SIZE)
        assert set(sigs) <= everything
        model = family.build_fixed_backbone(arch)
        seen = []
        layers = [model.conv1] + [b for name in model.layers[:-1]
                                  for b in getattr(model, name)] + [model.conv2]
        hooks = [m.register_forward_hook(
            lambda m, inp, out: seen.append((inp[0].shape[1:], out.shape[1])))
            for m in layers]
        with torch.no_grad():
            model(torch.zeros(1, 3, *SIZE))
        for h in hooks:
            h.remove()
        assert len(seen) == len(sigs)
        for (in_shape, c_out), sig in zip(seen, sigs):
            c_in, h, w = in_shape
            assert (sig[1], sig[2], sig[-2], sig[-1]) == (c_in, c_out, h, w)


def test_flops_params_and_latency_of_a_candidate(parts):
    _, family, archs = parts
    table = LatencyTable(entries={s: float(i + 1) for i, s in enumerate(
        family.space_signatures(SIZE))})  # no factory: every lookup is known
    cost = CandidateCost(family, SIZE, table)
    for arch in archs[:5]:
        got = cost(arch)
        # independent count from the signatures: conv multiply-adds plus two per BN output
        # element (fvcore's affine inference BN); the last 1x1 conv feeds no output here
        # (out_indices (2, 4, 6)), so the traced graph drops it
        macs = 0
        sigs = family.layer_signatures(arch, SIZE)
        assert 7 not in family.args['out_indices']
        for sig in sigs[:-1]:
            if sig[0] == 'conv':
                _, c_in, c_out, k, s, h, w = sig
                ho, wo = -(-h // s), -(-w // s)
                macs += c_in * c_out * k * k * ho * wo + 2 * c_out * ho * wo
            else:
                _, c_in, c_out, mid, k, s, d, expand, h, w = sig
                ho, wo = -(-h // s), -(-w // s)
                if expand:
                    macs += c_in * mid * h * w + 2 * mid * h * w
                macs += mid * k * k * ho * wo + 2 * mid * ho * wo
                macs += mid * c_out * ho * wo + 2 * c_out * ho * wo
        assert got['flops'] == macs
        model = family.build_fixed_backbone(arch)
        assert got['params'] == sum(p.numel() for p in model.parameters())
        assert got['latency_ms'] == sum(table.entries[s] for s in family.layer_signatures(
            arch, SIZE))
    seed, cheap = cost(archs[0]), cost(archs[3])
    assert cheap['flops'] < cost(archs[2])['flops'] < seed['flops'] < cost(archs[1])['flops']


def test_every_layer_of_the_space_times_in_onnxruntime(parts):
    """The latency table on the deployment runtime: each search-space layer exports to ONNX
    and the table's sums rank whole exported backbones as onnxruntime times them (at an
    input where compute, not per-call overhead, sets the time: at 64x48 both ends of the
    space run in about 0.8 ms and timing noise can order them either way)."""
    from detnas.nas.latency import check_predictor
    from detnas.nas.pipeline import latency_cases
    _, family, archs = parts
    size = (192, 160)
    table = LatencyTable(family.latency_layer, threads=1, warmup=2, repeats=10,
                         runtime='onnxruntime')
    signatures = set(family.space_signatures(size))
    assert table.measure(signatures) == len(signatures)
    named = dict(largest=archs[1], seed=archs[0], cheapest=archs[3])
    report = check_predictor(table, latency_cases(family, named, size))
    measured = {m['name']: m['measured_ms'] for m in report['models']}
    predicted = {m['name']: m['predicted_ms'] for m in report['models']}
    assert predicted['cheapest'] < predicted['seed'] < predicted['largest']
    assert measured['cheapest'] < measured['largest'], report


def test_constraints_and_settings_errors(parts):
    cfg, _, _ = parts
    seed = dict(flops=100.0, params=10.0, latency_ms=2.0)
    c = parse_constraints(['flops<=seed', 'latency_ms >= 1.5'], seed)
    assert [(x.key, x.op, x.limit) for x in c] == [('flops', '<=', 100.0),
                                                   ('latency_ms', '>=', 1.5)]
    with pytest.raises(DetnasInputError, match='checked before evaluation'):
        parse_constraints(['bbox_mAP>=0.3'], seed)
    with pytest.raises(DetnasInputError, match='KEY<=NUMBER'):
        parse_constraints(['flops<seed'], seed)
    settings = SearchSettings.from_config(cfg)
    assert settings.evolution['population_size'] == 4 and settings.supernet.max_epochs == 1
    for key, value, message in [('evolve', 1, "unknown key(s) ['evolve']"),
                                ('objectives', ['-mAP'], "'-mAP' is not a metric"),
                                ('heldout_fraction', 1.5, 'heldout_fraction must be in'),
                                ('supernet', dict(epochs=2), "unknown key(s) ['epochs']")]:
        bad = Config(cfg.to_dict())
        bad.search[key] = value
        with pytest.raises(DetnasInputError, match=message.replace('(', r'\(').replace(
                ')', r'\)').replace('[', r'\[').replace(']', r'\]')):
            SearchSettings.from_config(bad)


def test_search_keys_left_at_their_default_can_be_overridden_but_typos_cannot():
    from detnas.utils.config import ConfigKeyError, load_config
    keys = SearchSettings.config_keys()
    cfg = load_config(CFG, {'search.constraints': ['flops<=0.5*seed'],
                            'search.supernet.distill_weight': 0.5}, defaults=keys)
    assert cfg.search.constraints == ['flops<=0.5*seed']
    assert SearchSettings.from_config(cfg).supernet.distill_weight == 0.5
    with pytest.raises(ConfigKeyError, match="'constraint' is not a key of search.*did you "
                                             'mean constraints'):
        load_config(CFG, {'search.constraint': ['flops<=seed']}, defaults=keys)
    with pytest.raises(ConfigKeyError, match="'distil_weight' is not a key of search.supernet"):
        load_config(CFG, {'search.supernet.distil_weight': 1.0}, defaults=keys)
