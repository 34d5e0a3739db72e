"""Every shipped search config turns into a supernet config whose space holds the seed."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from detnas.nas.space import SearchSpace
from detnas.nas.supernet_config import build_supernet_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEARCH_CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'search', '*.py')))


def test_there_are_search_configs():
    names = {osp.basename(p) for p in SEARCH_CONFIGS}
    assert {'retinanet_mbv2_search_demo.py', 'gfocalv2_mbv2_search_demo.py'} <= names


@pytest.mark.parametrize('path', SEARCH_CONFIGS, ids=osp.basename)
def test_search_config_builds_a_supernet_around_its_seed(path):
    cfg = Config.fromfile(path)
    supernet = build_supernet_config(cfg, cfg.search.space.to_dict())
    backbone, neck = supernet.model.backbone, supernet.model.neck
    assert backbone.type == 'ElasticMobileNetV2'
    assert backbone.seed == cfg.model.backbone.init_cfg.checkpoint
    space = SearchSpace.from_config(cfg.search.space.to_dict())
    seed = space.seed_arch()
    # the seed MobileNetV2: widths 16 24 32 64 96 160 320, depths 1 2 3 4 3 3 1
    assert [s['width'] for s in seed['stages']] == [16, 24, 32, 64, 96, 160, 320]
    assert [s['depth'] for s in seed['stages']] == [1, 2, 3, 4, 3, 3, 1]
    # the elastic FPN reads the largest width of every stage the detector taps
    widest = [st.widths[-1] for st in space.stages] + [backbone.get('last_channels', 1280)]
    out_indices = backbone.get('out_indices', (1, 2, 4, 7))
    assert neck.type == 'ElasticFPN'
    assert list(neck.in_channels) == [widest[i] for i in out_indices]
    assert neck.out_channels == cfg.model.neck.out_channels
