#!/usr/bin/env python
"""ChannelsLastHook's premise: NCHW vs channels_last on this CPU, side by side.

    python bench/channels_last.py [--threads 1] [--reps 5]

Times forward+backward of (a) one depthwise 3x3 conv on 8x96x80x80 and (b) a training step
(loss forward + backward, batch 8 at 320x320) of configs/baselines/retinanet_mbv2_fpn_demo.py,
each in both layouts, alternating, median of the repeats. Writes
bench/results/channels_last.{json,md}.
"""
import argparse
import json
import os
import platform
import statistics
import time

import torch

from detnas.utils.config import build_detector

CONFIG = 'configs/baselines/retinanet_mbv2_fpn_demo.py'


def timed(step, reps):
    step()  # warm-up
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def depthwise_case(channels_last):
    conv = torch.nn.Conv2d(96, 96, 3, padding=1, groups=96)
    x = torch.randn(8, 96, 80, 80)
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    x.requires_grad_()
    return lambda: conv(x).sum().backward()


def detector_case(channels_last):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    torch.manual_seed(0)
    model = build_detector(CONFIG).train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    x = torch.rand(8, 3, 320, 320) * 255
    samples = []
    for _ in range(8):
        s = DetDataSample(metainfo=dict(img_shape=(320, 320), pad_shape=(320, 320),
                                        batch_input_shape=(320, 320), scale_factor=(1., 1.)))
        s.gt_instances = InstanceData(bboxes=torch.tensor([[40., 40., 120., 100.]]),
                                      labels=torch.tensor([1]))
        samples.append(s)

    def step():
        losses = model.loss(x, samples)
        model.parse_losses(losses)[0].backward()
        model.zero_grad()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--reps', type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = {}
    for name, case in (('depthwise 3x3, 8x96x80x80, fwd+bwd', depthwise_case),
                       ('RetinaNet-MBv2 demo train step, batch 8, 320px', detector_case)):
        nchw, nhwc = case(False), case(True)
        t = {'nchw': [], 'channels_last': []}
        for _ in range(2):  # alternate so that load drifts hit both
            t['nchw'].append(timed(nchw, args.reps))
            t['channels_last'].append(timed(nhwc, args.reps))
        rows[name] = dict(nchw_ms=min(t['nchw']), channels_last_ms=min(t['channels_last']))
        rows[name]['speedup'] = rows[name]['nchw_ms'] / rows[name]['channels_last_ms']
        print(name, rows[name], flush=True)
    meta = dict(command=f'python bench/channels_last.py --threads {args.threads} '
                        f'--reps {args.reps}',
                machine=f'{platform.machine()}, {os.cpu_count()} CPUs, torch '
                        f'{torch.__version__}, {args.threads} threads',
                date=time.strftime('%Y-%m-%d'))
    os.makedirs('bench/results', exist_ok=True)
    with open('bench/results/channels_last.json', 'w') as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=2)
    lines = [f'NCHW vs channels_last; {meta["machine"]}.', '',
             '| case | NCHW (ms) | channels_last (ms) | speed-up |', '|---|---|---|---|']
    lines += [f'| {k} | {r["nchw_ms"]:.1f} | {r["channels_last_ms"]:.1f} | '
              f'{r["speedup"]:.2f}x |' for k, r in rows.items()]
    lines += ['', f'Command: `{meta["command"]}`', '']
    with open('bench/results/channels_last.md', 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
