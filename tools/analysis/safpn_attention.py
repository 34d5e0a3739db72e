"""What did an SA-FPN learn? The mean scale-attention matrix of a trained detector.

    python tools/analysis/safpn_attention.py CONFIG CHECKPOINT [--num-images 32]
        [--split test] [--out work_dirs/safpn_attention/NAME] [--cfg-options k=v ...]

Runs the detector's backbone and SA-FPN neck on images of the config's test (or val,
train) split, records the scale-attention weights (``SAFPN.scale_attention``) and reports, for
every output level, the mean weight given to every input level (mean over images, and over
channels in ``'channel'`` mode) with its spread over images. A uniform matrix (every entry
``1 / L``) means the neck still averages all scales as it did at initialisation; FPN's
top-down sum corresponds to weight only on the same and coarser levels.

Writes ``OUT.json`` (matrix, spread, images used) and ``OUT.png`` (heatmap), and prints the
matrix.
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import DictAction


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', help='detector config with an SAFPN neck')
    p.add_argument('checkpoint', help='trained detector checkpoint')
    p.add_argument('--num-images', type=int, default=32, help='images to average over')
    p.add_argument('--split', choices=('test', 'val', 'train'), default='test',
                   help="which of the config's dataloaders supplies the images")
    p.add_argument('--out', help='output prefix (default: work_dirs/safpn_attention/<ckpt dir>)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    args = p.parse_args(argv)
    if args.num_images < 1:
        p.error(f'--num-images must be at least 1, got {args.num_images}')
    return args


def main(argv=None):
    args = parse_args(argv)
    from detnas.analysis import attention_weights, plot_attention
    from detnas.datasets import load_batches
    from detnas.utils.checkpoint import load_checked_state_dict
    from detnas.utils.config import build_detector, load_config
    from detnas.utils.errors import DetnasInputError
    cfg = load_config(args.config, args.cfg_options)
    if cfg.model.get('neck', {}).get('type') != 'SAFPN':
        raise DetnasInputError(f'{args.config}: model.neck.type is '
                               f'{cfg.model.get("neck", {}).get("type")!r}, not SAFPN')
    model = build_detector(cfg)
    if model.neck.scale_attention is None:
        raise DetnasInputError(f'{args.config}: the SAFPN neck has a single fused level, so '
                               'there is no scale attention to report')
    model.load_state_dict(load_checked_state_dict(model, args.checkpoint, args.config))
    loader = cfg.get(f'{args.split}_dataloader')
    if not loader:
        raise DetnasInputError(f'{args.config} has no {args.split}_dataloader; pick another '
                               '--split')
    batches, _ = load_batches(loader.dataset, batch_size=8,
                              num_images=args.num_images)
    weights = attention_weights(model, batches)
    mean, spread = weights.mean(dim=0), weights.std(dim=0) if len(weights) > 1 else None
    out = args.out or osp.join('work_dirs', 'safpn_attention',
                               osp.basename(osp.dirname(osp.abspath(args.checkpoint))))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    result = dict(config=args.config, checkpoint=args.checkpoint, split=args.split,
                  images=len(weights), mode=model.neck.scale_attention.mode,
                  mean=mean.tolist(), std=None if spread is None else spread.tolist(),
                  uniform=1.0 / mean.shape[1])
    with open(out + '.json', 'w') as f:
        json.dump(result, f, indent=1)
    plot_attention(mean.numpy(), out + '.png', f'SA-FPN scale attention, mean over {len(weights)} '
         f'{args.split} images\n{osp.basename(osp.dirname(osp.abspath(args.checkpoint)))}/'
         f'{osp.basename(args.checkpoint)}')
    print(f'mean scale-attention weights over {len(weights)} {args.split} images '
          f'(rows: output level, columns: input level, 0 = finest; uniform = '
          f'{result["uniform"]:.3f}):')
    for i, row in enumerate(mean.tolist()):
        print(f'  out L{i}: ' + '  '.join(f'{v:.3f}' for v in row))
    print(f'wrote {out}.json and {out}.png')
    return result


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
