"""Checkpoints written by tools/train.py load through mmdet's APIs with torch's default
``weights_only=True`` and no environment variable."""
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import pytest
import torch
from helpers import ROOT, run_tool, tiny_data_options

CFG = 'tests/configs/retinanet_tiny.py'
PREDICT = r'''
import json, sys
import torch
from mmdet.apis import DetInferencer, inference_detector, init_detector
config, ckpt, image = sys.argv[1:4]
inferencer = DetInferencer(model=config, weights=ckpt, device='cpu', show_progress=False)
pred = inferencer(image, no_save_vis=True)['predictions'][0]
model = init_detector(config, ckpt, device='cpu')
res = inference_detector(model, image).pred_instances
print(json.dumps(dict(inferencer=pred['bboxes'][:20], scores=pred['scores'][:20],
                      init_detector=res.bboxes[:20].tolist())))
'''


@pytest.mark.slow
def test_trained_checkpoint_loads_in_mmdet_apis_without_the_env_var(tiny_coco, tmp_path):
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', CFG, '--work-dir', str(work), '--cfg-options',
                     *tiny_data_options(tiny_coco)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = str(work / 'epoch_1.pth')
    torch.load(ckpt, map_location='cpu', weights_only=True)  # detnas imported here: enough
    config = tmp_path / 'config.py'
    config.write_text(f"_base_ = '{osp.join(ROOT, CFG)}'\n"
                      "model = dict(backbone=dict(init_cfg=None))\n")
    image = osp.join(tiny_coco, 'val', 'val_00001.jpg')
    env = {k: v for k, v in os.environ.items() if k != 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'}
    out = subprocess.run([sys.executable, '-c', PREDICT, str(config), ckpt, image],
                         capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # an independent reading of the same weights gives the same boxes
    from mmdet.apis import inference_detector, init_detector
    model = init_detector(str(config), None, device='cpu')
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    model.load_state_dict(state)
    want = inference_detector(model, image).pred_instances.bboxes[:20]
    assert len(want) and torch.allclose(torch.tensor(got['init_detector']), want, atol=1e-3)
    assert torch.allclose(torch.tensor(got['inferencer']), want, atol=1e-3)
    # and tools/test.py's predictions of the same image (its --out dump)
    dump = str(tmp_path / 'test_preds.pkl')
    proc = run_tool(['tools/test.py', CFG, ckpt, '--work-dir', str(tmp_path / 'test'),
                     '--out', dump, '--cfg-options', *tiny_data_options(tiny_coco)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(dump, 'rb') as f:
        tested = [r for r in pickle.load(f) if r['img_path'].endswith('val_00001.jpg')]
    assert len(tested) == 1
    assert torch.allclose(tested[0]['pred_instances']['bboxes'][:20], want, atol=1e-3)
