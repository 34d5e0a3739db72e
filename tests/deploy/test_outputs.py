"""detnas.deploy.outputs: the names of the flattened head outputs."""
import pytest
import torch
from deploy_helpers import detector, image_batch
from helpers import ROOT

from detnas.deploy.outputs import TensorOutputs, flatten_outputs, head_strides, output_names

FCOS = f'{ROOT}/configs/baselines/fcos_mbv2_fpn_demo.py'


def test_names_follow_the_heads_post_processing_arguments():
    model = detector(FCOS)
    x = image_batch(64)
    with torch.no_grad():
        outputs = model(x, mode='tensor')
        flat = TensorOutputs(model)(x)
    names = output_names(model, outputs)
    # FCOS: scores, boxes and centerness (predict_by_feat's score_factors), 5 levels each
    assert names == [f'{k}_{i}' for k in ('cls_score', 'bbox_pred', 'score_factor')
                     for i in range(5)]
    assert len(flat) == 15 and flat[10] is not None
    assert flat[10].shape == (1, 1, 8, 8)  # centerness of level 0 (stride 8) on 64 px
    assert head_strides(model) == [8, 16, 32, 64, 128]


def test_other_structures_get_generic_names():
    t = torch.zeros(1)
    model = torch.nn.Identity()  # no bbox_head
    assert output_names(model, ([t, t], [t])) == ['output_0', 'output_1', 'output_2']
    assert output_names(model, (t, [t, (t, t)])) == [f'output_{i}' for i in range(4)]
    assert head_strides(model) == []
    assert len(flatten_outputs((t, [t, (t, t)]))) == 4


def test_a_non_tensor_output_is_refused():
    with pytest.raises(TypeError, match='dict cannot be exported'):
        flatten_outputs((torch.zeros(1), {'a': 1}))
