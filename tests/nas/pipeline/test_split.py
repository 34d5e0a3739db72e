"""The held-out split of the training annotations: deterministic, disjoint, complete."""
import json

import pytest

from detnas.nas.pipeline.split import heldout_image_ids, split_train_annotations
from detnas.utils.errors import DetnasInputError


def _coco(num_images=10):
    images = [dict(id=i, file_name=f'{i}.jpg', height=8, width=8) for i in range(1, num_images + 1)]
    anns = [dict(id=10 * i + k, image_id=i, bbox=[0, 0, 2, 2], area=4, category_id=1, iscrowd=0)
            for i in range(1, num_images + 1) for k in range(i % 3)]
    return dict(info=dict(note='kept'), images=images, annotations=anns,
                categories=[dict(id=1, name='a')])


def test_split_is_a_deterministic_partition(tmp_path):
    src = tmp_path / 'train.json'
    data = _coco(10)
    src.write_text(json.dumps(data))
    a = split_train_annotations(str(src), str(tmp_path / 'a'), 0.3, seed=5)
    b = split_train_annotations(str(src), str(tmp_path / 'b'), 0.3, seed=5)
    c = split_train_annotations(str(src), str(tmp_path / 'c'), 0.3, seed=6)
    assert a.heldout_ids == b.heldout_ids and len(a.heldout_ids) == 3
    assert a.heldout_ids != c.heldout_ids  # another seed, another split (here)
    assert set(a.heldout_ids) | set(a.train_ids) == set(range(1, 11))
    assert not set(a.heldout_ids) & set(a.train_ids)
    held = json.loads(open(a.heldout_ann_file).read())
    train = json.loads(open(a.train_ann_file).read())
    assert held['info'] == dict(note='kept') and held['categories'] == data['categories']
    assert sorted(im['id'] for im in held['images']) == list(a.heldout_ids)
    assert {x['image_id'] for x in held['annotations']} <= set(a.heldout_ids)
    # every annotation lands in exactly one part
    assert len(held['annotations']) + len(train['annotations']) == len(data['annotations'])
    assert [x['id'] for x in train['annotations']] == [
        x['id'] for x in data['annotations'] if x['image_id'] in set(a.train_ids)]


def test_split_size_bounds_and_errors(tmp_path):
    ids = list(range(5))
    assert len(heldout_image_ids(ids, 0.01, 0)) == 1  # at least one held out
    assert len(heldout_image_ids(ids, 0.99, 0)) == 4  # at least one left to train on
    with pytest.raises(DetnasInputError, match='heldout_fraction'):
        heldout_image_ids(ids, 1.0, 0)
    with pytest.raises(DetnasInputError, match='at least 2'):
        heldout_image_ids([1], 0.5, 0)
    with pytest.raises(DetnasInputError, match='does not exist'):
        split_train_annotations(str(tmp_path / 'nope.json'), str(tmp_path), 0.2, 0)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": 3}')
    with pytest.raises(DetnasInputError, match='not COCO json'):
        split_train_annotations(str(bad), str(tmp_path), 0.2, 0)
