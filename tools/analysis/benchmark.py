#!/usr/bin/env python
"""Inference speed of a config's detector: latency and FPS, batch 1, with post-processing.

    python tools/analysis/benchmark.py CONFIG [CHECKPOINT] [--shape H W] [--iters 20]
        [--warmup 5] [--threads N] [--json] [--onnx [FILE.onnx]]

Runs the full predict path (backbone, neck, head, NMS) on one image tensor. Report the
machine with the numbers: they are only comparable on the same one. CHECKPOINT must fit the
config's model key for key, as in tools/test.py (a truncated file or a checkpoint of another
config is an error that names the file and the keys).

--onnx also times the network alone (backbone, neck, head: no decoding, no NMS) in PyTorch
and in onnxruntime on the same preprocessed input, with as many threads: FILE.onnx (from
tools/deploy/export_onnx.py at this --shape) or, without FILE, the model exported now to a
temporary file. Needs ``pip install detnas[deploy]``.
"""
import argparse
import json
import os.path as osp
import platform
import tempfile

from mmengine.config import DictAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='weights (random init if omitted)')
    parser.add_argument('--shape', type=int, nargs=2, default=[320, 320], metavar=('H', 'W'))
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch)')
    parser.add_argument('--json', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--onnx', nargs='?', const='', metavar='FILE.onnx',
                        help='also time the network in onnxruntime beside PyTorch: FILE.onnx '
                        '(exported at --shape) or, without FILE, the model exported now')
    return parser.parse_args(argv)


def _onnx_session(model, inputs, onnx_file: str, tmp: str):
    """An onnxruntime session of ``onnx_file`` (or of ``model`` exported into ``tmp``),
    checked to take ``inputs``' shape."""
    import torch

    from detnas.deploy import export_onnx, ort_session
    from detnas.utils.errors import DetnasInputError
    if onnx_file and not onnx_file.endswith('.onnx'):
        raise DetnasInputError(f'--onnx takes a .onnx file, got {onnx_file!r} (a checkpoint '
                               'goes before the options: CONFIG CHECKPOINT --onnx)')
    if onnx_file and not osp.isfile(onnx_file):
        raise DetnasInputError(f'--onnx {onnx_file!r} does not exist: export it with '
                               'tools/deploy/export_onnx.py, or pass --onnx alone')
    path = onnx_file or export_onnx(model, osp.join(tmp, 'model.onnx'),
                                    tuple(inputs.shape[-2:])).path
    session = ort_session(path, torch.get_num_threads())
    expected = list(session.get_inputs()[0].shape)
    if expected != list(inputs.shape):
        raise DetnasInputError(
            f'--onnx {onnx_file!r} takes input {expected} but --shape gives '
            f'{list(inputs.shape)} (after padding): pass --shape {expected[2]} {expected[3]} '
            'or export the file at this shape')
    return session


def time_network(model, inputs, onnx_file: str, warmup: int, iters: int) -> dict:
    """Latency of the network alone (``mode='tensor'``) in PyTorch and in onnxruntime.

    Args:
        model: the detector.
        inputs: its preprocessed input batch.
        onnx_file: an exported ``.onnx`` of this input shape, or '' to export ``model``.
        warmup: untimed calls first.
        iters: timed calls.

    Returns:
        dict with ``pytorch`` and ``onnxruntime`` (as :func:`measure_latency`), the
        ``onnx`` file and ``speedup`` (PyTorch median / onnxruntime median).
    """
    from detnas.utils.latency import measure_latency
    with tempfile.TemporaryDirectory() as tmp:
        session = _onnx_session(model, inputs, onnx_file, tmp)
        feed = {session.get_inputs()[0].name: inputs.numpy()}
        ort = measure_latency(lambda: session.run(None, feed), warmup, iters)
    torch_ms = measure_latency(lambda: model(inputs, mode='tensor'), warmup, iters)
    return dict(pytorch=torch_ms, onnxruntime=ort, onnx=onnx_file or '(exported now)',
                input=list(inputs.shape),
                speedup=torch_ms['median_ms'] / ort['median_ms'])


def main(argv=None):
    args = parse_args(argv)
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
    if args.onnx is not None:
        with torch.no_grad():
            inputs = model.data_preprocessor(data, False)['inputs']
        result['network'] = time_network(model, inputs, args.onnx, args.warmup, args.iters)
    if args.json:
        print(json.dumps(result))
    else:
        print(f'{args.config}: {result["median_ms"]:.1f} ms/img (median of {args.iters}), '
              f'{result["fps"]:.2f} FPS, {result["threads"]} threads, input {h}x{w}')
    if 'network' in result and not args.json:
        net = result['network']
        print(f'network only (no decoding/NMS), input {net["input"]}: PyTorch '
              f'{net["pytorch"]["median_ms"]:.1f} ms, onnxruntime '
              f'{net["onnxruntime"]["median_ms"]:.1f} ms ({net["speedup"]:.2f}x), '
              f'{net["onnx"]}')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
