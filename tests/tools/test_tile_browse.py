"""The data-set commands end to end, in process: ``tile`` (tools/dataset/tile.py) and
``browse`` (tools/analysis/browse_dataset.py), on the scenes described in
tests/datasets/test_tiler.py and test_browse.py."""
import json
import os

import pytest
from dataset_helpers import make_browse_scene, make_tile_scene

from detnas.tools import TOOLS, run


def test_tile_command(tmp_path, capsys):
    from detnas.tools.tile import main
    ann, img_dir, _ = make_tile_scene(tmp_path)
    out = tmp_path / 'tiles'
    main([ann, '--images', img_dir, '--out-dir', str(out), '--size', '40', '--overlap', '10',
          '--keep-empty', '0.5', '--no-progress'])
    printed = capsys.readouterr().out.splitlines()
    assert printed[:3] == [
        'images: 3 -> tiles: 11 cut (40 px, overlap 10), 8 written (3 of them without boxes); '
        '3 without boxes dropped (--keep-empty 0.5)',
        'boxes: 7 in the source; pieces in tiles: 7 whole, 3 clipped (kept), 3 remnants '
        'dropped (1 under --min-visible 0.5 of their box, 2 under 1 px wide or high)',
        'lost: none (every source box is kept, whole or clipped, in some tile)']
    tiled = json.load(open(out / 'train.json'))
    assert len(tiled['images']) == 8 and len(tiled['annotations']) == 10
    assert tiled['info']['tiling'] == dict(source=ann, size=40, overlap=10, min_visible=0.5,
                                           keep_empty=0.5)
    assert len(os.listdir(out / 'images')) == 8


def test_browse_command(tmp_path, capsys):
    from detnas.tools.browse import main
    ann, img_dir = make_browse_scene(tmp_path)
    out = tmp_path / 'drawn'
    main([ann, '--images', img_dir, '--out-dir', str(out), '--num', '5'])
    printed = capsys.readouterr().out
    assert '| cat | 3 | 2 (66.7%) | 1 (33.3%) | 0 (0.0%) |' in printed
    assert '| all | 7 | 4 (57.1%) | 2 (28.6%) | 1 (14.3%) |' in printed
    assert printed.rstrip().endswith(f'wrote 3 drawn image(s) and size_stats.json to {out}/')
    assert sorted(os.listdir(out)) == ['b.jpg', 'c.jpg', 'size_stats.json', 'sub__a.jpg']
    stats = json.load(open(out / 'size_stats.json'))
    assert stats['ann_file'] == ann and stats['all'] == dict(boxes=7, small=4, medium=2,
                                                             large=1)


@pytest.mark.parametrize('tool', ['tile', 'browse'])
def test_user_errors_exit_2_naming_the_file(tmp_path, capsys, tool):
    assert tool in TOOLS
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": ')
    with pytest.raises(SystemExit) as e:
        run(tool, [str(bad), '--images', str(tmp_path), '--out-dir', str(tmp_path / 'out')])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: '{bad}' is not valid json") and err.count('\n') == 1
    assert not (tmp_path / 'out').exists()
