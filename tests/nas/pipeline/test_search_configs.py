"""Every shipped search config turns into a supernet config whose space holds the seed."""
import ast
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from detnas.nas.families import bind_family
from detnas.nas.pipeline import build_supernet_config
from helpers import ROOT

SEARCH_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'search', '*.py')))


def test_there_are_search_configs():
    names = {osp.basename(p) for p in SEARCH_CONFIGS}
    assert {'retinanet_mbv2_search_demo.py', 'gfocalv2_mbv2_search_demo.py',
            'retinanet_r50_search_coco.py'} <= names


# the seeds' (widths, depths): ImageNet MobileNetV2 and ResNet-50
SEEDS = {'ElasticMobileNetV2': ([16, 24, 32, 64, 96, 160, 320], [1, 2, 3, 4, 3, 3, 1]),
         'ElasticResNet': ([256, 512, 1024, 2048], [3, 4, 6, 3])}


@pytest.mark.parametrize('path', SEARCH_CONFIGS, ids=osp.basename)
def test_search_config_builds_a_supernet_around_its_seed(path):
    cfg = Config.fromfile(path)
    supernet = build_supernet_config(cfg, cfg.search.space.to_dict())
    backbone, neck = supernet.model.backbone, supernet.model.neck
    assert backbone.type in SEEDS
    assert backbone.seed == cfg.model.backbone.init_cfg.checkpoint
    space = bind_family(backbone.to_dict()).space
    seed = space.seed_arch()
    widths, depths = SEEDS[backbone.type]
    assert [s['width'] for s in seed['stages']] == widths
    assert [s['depth'] for s in seed['stages']] == depths
    # the elastic FPN reads the largest width of every stage the detector taps
    assert neck.type == 'ElasticFPN'
    largest = space.largest()['stages']
    widest = [s['width'] for s in largest] + [backbone.get('last_channels', 1280)]
    default = (1, 2, 4, 7) if backbone.type == 'ElasticMobileNetV2' else (0, 1, 2, 3)
    assert list(neck.in_channels) == [widest[i] for i in backbone.get('out_indices', default)]
    assert neck.out_channels == cfg.model.neck.out_channels


@pytest.mark.parametrize('path', SEARCH_CONFIGS, ids=osp.basename)
def test_search_config_adds_only_its_search_section(path):
    """A search config is its seed detector plus `search`: helper variables of the space
    files must not reach the seed config that every exported detector config inherits."""
    bases = next(ast.literal_eval(node.value) for node in ast.parse(open(path).read()).body
                 if isinstance(node, ast.Assign) and node.targets[0].id == '_base_')
    detector, = [b for b in bases if '_base_/search/' not in b]
    seed_keys = set(Config.fromfile(osp.join(osp.dirname(path), detector)).keys())
    assert set(Config.fromfile(path).keys()) - seed_keys == {'search'}
