"""The documented one-line TensorBoard switch (configs/_base_/default_runtime.py) writes the
training scalars as TensorBoard events."""
import glob
import os.path as osp

import pytest
from helpers import ROOT, run_tool, tiny_data_options


def _switch_line() -> str:
    """The line the runtime base documents, as a user copies it."""
    with open(osp.join(ROOT, 'configs/_base_/default_runtime.py')) as f:
        lines = [ln[2:].strip() for ln in f if ln.startswith('# visualizer = ')]
    assert len(lines) == 1
    return lines[0]


@pytest.mark.slow
def test_the_tensorboard_line_logs_loss_and_map(tiny_coco, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    config = tmp_path / 'tb.py'
    config.write_text(f"_base_ = '{osp.join(ROOT, 'tests/configs/retinanet_tiny.py')}'\n"
                      f'{_switch_line()}\n')
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work), '--cfg-options',
                     *tiny_data_options(tiny_coco)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = glob.glob(str(work / '*' / 'vis_data' / 'events.out.tfevents.*'))
    assert len(events) == 1
    acc = EventAccumulator(events[0])
    acc.Reload()
    tags = acc.Tags()['scalars']
    # 12 images, batch 2: 6 iterations, the loss logged at each (logger interval 1)
    assert len(acc.Scalars('loss')) == 6
    assert 'coco/bbox_mAP' in tags
