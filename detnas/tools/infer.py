"""Detect objects in images with a trained detector (mmdet's demo/image_demo.py conventions).

    python tools/infer.py IMG_OR_DIR CONFIG CHECKPOINT [--out-dir outputs] [--score-thr 0.3]
        [--batch-size 4] [--device cpu] [--slice SIZE [--slice-overlap PX] [--no-whole]]

Writes OUT_DIR/vis/NAME.jpg (boxes with a score >= --score-thr drawn, with class names)
and OUT_DIR/preds/NAME.json (``labels``, ``scores``, ``bboxes`` x1 y1 x2 y2 in the image's
pixels: every detection the model's test_cfg keeps), as mmdet's DetInferencer does.
--slice SIZE runs sliced inference for large images with small objects: overlapping
SIZE x SIZE tiles (the detector's input size keeps objects at the scale it learnt), the
whole image once more for large objects, merged by class-wise NMS.
"""
import argparse
import os
import os.path as osp

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='e.g. python tools/infer.py data/demo_coco/val configs/baselines/'
        'retinanet_mbv2_fpn_demo.py work_dirs/retinanet_mbv2_fpn_demo/epoch_12.pth')
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('config', help='config file of the detector')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', default='outputs', help='output folder')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='draw boxes with at least this score')
    parser.add_argument('--batch-size', type=int, default=4, help='images (tiles) per pass')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, ...')
    parser.add_argument('--slice', type=int, metavar='SIZE',
                        help='sliced inference with SIZE x SIZE tiles')
    parser.add_argument('--slice-overlap', type=int, default=64, metavar='PX',
                        help='least overlap of neighbouring tiles (default 64)')
    parser.add_argument('--no-whole', action='store_true',
                        help='with --slice: skip the pass over the whole image')
    parser.add_argument('--no-save-vis', action='store_true', help='write no drawn images')
    return parser.parse_args(argv)


def list_images(inputs: str) -> list:
    """The image files of ``inputs`` (a file, or a folder searched recursively), sorted."""
    from detnas.utils.errors import DetnasInputError
    if osp.isfile(inputs):
        return [inputs]
    if not osp.isdir(inputs):
        raise DetnasInputError(f'input {inputs!r} is neither an image file nor a folder')
    found = sorted(osp.join(d, f) for d, _, files in os.walk(inputs) for f in files
                   if f.lower().endswith(IMAGE_EXTENSIONS))
    if not found:
        raise DetnasInputError(f'no image ({", ".join(IMAGE_EXTENSIONS)}) in folder {inputs!r}')
    return found


def _read_bgr(path: str):
    import mmcv
    from detnas.utils.errors import DetnasInputError
    try:
        return mmcv.imread(path)
    except Exception as err:  # noqa: BLE001  mmcv raises several types for a bad file
        raise DetnasInputError(f'cannot read image {path!r}: {err}') from None


def write_outputs(model, visualizer, path: str, image, det, args) -> None:
    """Writes the JSON of ``det`` and, unless ``--no-save-vis``, the drawn image."""
    from mmdet.structures import DetDataSample

    from detnas.utils.io import atomic_write_json
    name = osp.splitext(osp.basename(path))[0]
    atomic_write_json(osp.join(args.out_dir, 'preds', name + '.json'),
                      dict(labels=det.labels.tolist(), scores=det.scores.tolist(),
                           bboxes=det.bboxes.tolist()))
    if visualizer is not None:
        sample = DetDataSample(pred_instances=det)
        visualizer.add_datasample(name, image[..., ::-1], sample, draw_gt=False,
                                  pred_score_thr=args.score_thr,
                                  out_file=osp.join(args.out_dir, 'vis', name + '.jpg'))


def main(argv=None):
    args = parse_args(argv)
    import detnas  # noqa: F401
    from mmdet.registry import VISUALIZERS
    from mmengine.utils import ProgressBar

    from detnas.apis import load_trained_detector, predict_images, predict_sliced

    paths = list_images(args.inputs)
    model = load_trained_detector(args.config, args.checkpoint, args.device)
    visualizer = None
    if not args.no_save_vis:
        visualizer = VISUALIZERS.build(dict(model.cfg.visualizer, name='detnas_infer'))
        visualizer.dataset_meta = model.dataset_meta
    progress = ProgressBar(len(paths))
    batch = 1 if args.slice else args.batch_size
    for start in range(0, len(paths), batch):
        chunk = paths[start:start + batch]
        images = [_read_bgr(p) for p in chunk]
        if args.slice:
            dets = [predict_sliced(model, images[0], args.slice, args.slice_overlap,
                                   args.batch_size, whole_image=not args.no_whole)]
        else:
            dets = predict_images(model, images, args.batch_size)
        for path, image, det in zip(chunk, images, dets):
            write_outputs(model, visualizer, path, image, det, args)
            progress.update()
    print(f'\nresults of {len(paths)} image(s) in {args.out_dir}/preds'
          + ('' if args.no_save_vis else f' and {args.out_dir}/vis'))


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
