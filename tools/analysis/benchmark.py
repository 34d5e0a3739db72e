#!/usr/bin/env python
"""Inference speed of a config's detector: latency and FPS, batch 1, with post-processing.

    python tools/analysis/benchmark.py CONFIG [CHECKPOINT] [--shape H W] [--iters 20]
        [--warmup 5] [--threads N] [--json]

Runs the full predict path (backbone, neck, head, NMS) on one image tensor. Report the
machine with the numbers: they are only comparable on the same one. CHECKPOINT must fit the
config's model key for key, as in tools/test.py (a truncated file or a checkpoint of another
config is an error that names the file and the keys).
"""
import argparse
import json
import platform

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='weights (random init if omitted)')
    parser.add_argument('--shape', type=int, nargs=2, default=[320, 320], metavar=('H', 'W'))
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch)')
    parser.add_argument('--json', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    import detnas  # noqa: F401
    import torch
    from mmdet.structures import DetDataSample
    from detnas.utils.checkpoint import load_checked_state_dict
    from detnas.utils.config import build_detector, load_config
    from detnas.utils.latency import measure_latency

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.cfg_options)
    model = build_detector(cfg)  # random weights: counting and timing need none
    if args.checkpoint:
        # checked key for key; strict=False only lets BN's num_batches_tracked be absent
        model.load_state_dict(load_checked_state_dict(model, args.checkpoint, args.config),
                              strict=False)
    h, w = args.shape
    x = torch.rand(1, 3, h, w) * 255
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w),
                                         scale_factor=(1.0, 1.0), batch_input_shape=(h, w)))
    data = dict(inputs=[x[0]], data_samples=[sample])

    def predict():
        batch = model.data_preprocessor(data, False)
        return model(**batch, mode='predict')

    result = measure_latency(predict, args.warmup, args.iters)
    result.update(config=args.config, shape=[h, w], threads=torch.get_num_threads(),
                  machine=f'{platform.machine()} {platform.processor() or ""}'.strip())
    if args.json:
        print(json.dumps(result))
    else:
        print(f'{args.config}: {result["median_ms"]:.1f} ms/img (median of {args.iters}), '
              f'{result["fps"]:.2f} FPS, {result["threads"]} threads, input {h}x{w}')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
