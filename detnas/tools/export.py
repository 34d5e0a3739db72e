"""Export a trained detector to ONNX and check it in onnxruntime.

    python tools/deploy/export_onnx.py CONFIG CHECKPOINT [--out FILE.onnx] [--shape H W]
        [--opset N] [--no-check] [--cfg-options k=v ...]

The graph is the network (backbone, neck, head) of ``model(inputs, mode='tensor')``: its
input ``input`` is a preprocessed ``1 x 3 x H x W`` image batch (resized and padded to H x W,
normalised with the mean/std stored in the file's metadata); its outputs are the head's raw
tensors ``cls_score_0 .. cls_score_4, bbox_pred_0 ..`` (one per level, strides in the
metadata); decoding and NMS stay outside (``model.bbox_head.predict_by_feat``). The fusion
op is exported as standard ops around GridSample (opset >= 16): any runtime with GridSample
runs it. Unless --no-check, the file is run in onnxruntime and compared with PyTorch on one
input; the tool fails (exit 1) when an output differs by more than 1e-4 of its scale.
Needs ``pip install detnas[deploy]``. The checkpoint must fit the config's model key for
key, as in tools/test.py.
"""
import argparse
import os.path as osp
import sys

from detnas.utils.errors import DetnasInputError


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='e.g. python tools/deploy/export_onnx.py configs/baselines/'
               'retinanet_mbv2_fpn_demo.py work_dirs/retinanet_mbv2_fpn_demo/epoch_12.pth '
               '--shape 320 320')
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', metavar='FILE.onnx',
                        help='ONNX file to write (default: the checkpoint\'s path, .onnx)')
    parser.add_argument('--shape', type=int, nargs=2, default=[320, 320], metavar=('H', 'W'),
                        help='static input size, after resizing and padding (default: 320 '
                        '320)')
    parser.add_argument('--opset', type=int, help='ONNX opset, 16 to 20 (default: 17)')
    parser.add_argument('--no-check', action='store_true',
                        help='do not compare onnxruntime with PyTorch after the export')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.test_cfg.score_thr=0.3')
    parser.add_argument('--allow-new-keys', action='store_true',
                        help='let --cfg-options add keys the config does not have')
    return parser.parse_args(argv)


def default_out(checkpoint: str) -> str:
    """``work_dirs/x/epoch_12.pth`` -> ``work_dirs/x/epoch_12.onnx``."""
    return osp.splitext(checkpoint)[0] + '.onnx'


def check_shape(shape) -> tuple:
    """``(H, W)`` or DetnasInputError for a non-positive size."""
    h, w = shape
    if h < 1 or w < 1:
        raise DetnasInputError(f'--shape {h} {w}: the input height and width must be '
                               'positive, e.g. --shape 320 320')
    return h, w


def describe_export(info) -> str:
    """Lines about the written file: input, outputs with shapes, preprocessing."""
    import os
    size = os.path.getsize(info.path) / 2**20
    lines = [f'wrote {info.path} ({size:.1f} MiB, exported in {info.seconds:.1f} s)',
             f'  input  input {list(info.input_shape)} float32, preprocessed (mean '
             f'{info.metadata.get("detnas.mean", "-")}, std '
             f'{info.metadata.get("detnas.std", "-")}, bgr_to_rgb '
             f'{info.metadata.get("detnas.bgr_to_rgb", "-")})']
    lines += [f'  output {name} {list(shape)}' for name, shape in info.outputs.items()]
    if info.metadata.get('detnas.strides'):
        lines.append(f'  levels 0.. have strides {info.metadata["detnas.strides"]}')
    if info.routed_ops:
        lines.append(f'  exported through their GridSample form: {", ".join(info.routed_ops)}')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    from detnas.deploy import DEFAULT_OPSET, check_onnx, export_onnx
    from detnas.deploy.deps import require
    from detnas.deploy.export import check_opset
    opset = DEFAULT_OPSET if args.opset is None else args.opset
    check_opset(opset)
    shape = check_shape(args.shape)
    require('onnx', 'to export to ONNX')
    if not args.no_check:
        require('onnxruntime', 'to check the export (or pass --no-check)')
    from detnas.apis import load_trained_detector
    model = load_trained_detector(args.config, args.checkpoint, cfg_options=args.cfg_options,
                                  allow_new_keys=args.allow_new_keys)
    out = args.out or default_out(args.checkpoint)
    info = export_onnx(model, out, shape, opset,
                       extra_metadata={'detnas.config': osp.basename(args.config)})
    print(describe_export(info))
    if args.no_check:
        return
    result = check_onnx(model, out)
    print(result.summary())
    if not result.passed:
        sys.exit(1)


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
