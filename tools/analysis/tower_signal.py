"""How much signal reaches a dense head's prediction layers? Tower output scale vs input scale.

    python tools/analysis/tower_signal.py CONFIG [CONFIG ...] [--checkpoint CKPT ...]
        [--num-images 16] [--split test] [--cfg-options k=v ...]

For each config, builds the detector with its initialisation (the backbone's pretrained
seed is loaded through ``init_cfg``; or the given checkpoint), runs backbone and neck on
images of the config's test split, and measures the root-mean-square of the head's input
(the FPN level) and of the outputs of its classification and regression towers
(``cls_convs`` / ``reg_convs``), averaged over pyramid levels. A sequential head
(:class:`~detnas.models.dense_heads.SeqTowerMixin`) runs its towers in sequence, so its
second tower's output is two towers deep; with mmdet's small-std initialisation and no
normalisation (RetinaNet) that shrinks the signal the prediction layer sees.

Prints a table (one row per config) and writes it to ``--out`` (.json and .md) when given.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import DictAction

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='+', help='detector configs whose heads have cls_convs / '
                   'reg_convs towers')
    p.add_argument('--checkpoint', nargs='+', help='one checkpoint per config (default: the '
                   "configs' initialisation)")
    p.add_argument('--num-images', type=int, default=16)
    p.add_argument('--split', choices=('test', 'val', 'train'), default='test')
    p.add_argument('--out', help='output prefix for .json and .md')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    args = p.parse_args(argv)
    if args.checkpoint and len(args.checkpoint) != len(args.configs):
        p.error(f'--checkpoint needs one file per config ({len(args.configs)}), got '
                f'{len(args.checkpoint)}')
    if args.num_images < 1:
        p.error(f'--num-images must be at least 1, got {args.num_images}')
    return args


def rms(x) -> float:
    return float(x.float().square().mean().sqrt())


def tower_signal(model, batches) -> dict:
    """Mean over levels and images of the RMS of the head input and of each tower's output.

    Args:
        model: a detector with ``neck`` and a ``bbox_head`` that has ``cls_convs`` and
            ``reg_convs``.
        batches: collated batches (``data_preprocessor`` input format).
    """
    import torch
    head = model.bbox_head
    towers = getattr(head, 'forward_towers', None)

    def run(tower, x):
        for layer in tower:
            x = layer(x)
        return x

    sums = dict(input=0.0, cls_tower=0.0, reg_tower=0.0)
    count = 0
    with torch.no_grad():
        for batch in batches:
            feats = model.extract_feat(model.data_preprocessor(batch, False)['inputs'])
            for x in feats:
                cls_feat, reg_feat = towers(x) if towers else (run(head.cls_convs, x),
                                                               run(head.reg_convs, x))
                sums['input'] += rms(x)
                sums['cls_tower'] += rms(cls_feat)
                sums['reg_tower'] += rms(reg_feat)
                count += 1
    out = {k: v / count for k, v in sums.items()}
    out['cls_over_input'] = out['cls_tower'] / out['input']
    out['reg_over_input'] = out['reg_tower'] / out['input']
    return out


def build(config: str, checkpoint, cfg_options):
    """The detector of ``config`` in eval mode, initialised as training would start, or from
    ``checkpoint``."""
    import detnas  # noqa: F401
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from detnas.utils.checkpoint import load_checked_state_dict
    from detnas.utils.config import load_config
    from detnas.utils.errors import DetnasInputError
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    head = getattr(model, 'bbox_head', None)
    if not (hasattr(head, 'cls_convs') and hasattr(head, 'reg_convs')):
        raise DetnasInputError(f'{config}: model.bbox_head ({type(head).__name__}) has no '
                               'cls_convs / reg_convs towers')
    if checkpoint:
        model.load_state_dict(load_checked_state_dict(model, checkpoint, config))
    else:
        model.init_weights()
    return cfg, model.eval()


def main(argv=None):
    args = parse_args(argv)
    from detnas.nas.candidate_eval import load_batches
    from detnas.utils.errors import DetnasInputError
    rows = []
    for i, config in enumerate(args.configs):
        ckpt = args.checkpoint[i] if args.checkpoint else None
        cfg, model = build(config, ckpt, args.cfg_options)
        loader = cfg.get(f'{args.split}_dataloader')
        if not loader:
            raise DetnasInputError(f'{config} has no {args.split}_dataloader')
        batches, _ = load_batches(loader.dataset, batch_size=8, num_images=args.num_images)
        rows.append(dict(config=config, checkpoint=ckpt or 'init',
                         head=type(model.bbox_head).__name__,
                         order=getattr(model.bbox_head, 'seq_order', 'parallel'),
                         **tower_signal(model, batches)))
    lines = ['| config | weights | head | order | input RMS | cls tower / input | '
             'reg tower / input |', '|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {osp.basename(r['config'])} | {r['checkpoint']} | {r['head']} | "
                     f"{r['order']} | {r['input']:.3g} | {r['cls_over_input']:.3g} | "
                     f"{r['reg_over_input']:.3g} |")
    table = '\n'.join(lines) + '\n'
    print(table)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out + '.json', 'w') as f:
            json.dump(dict(command=' '.join(['python', *sys.argv]), images=args.num_images,
                           split=args.split, rows=rows), f, indent=1)
        with open(args.out + '.md', 'w') as f:
            f.write(table)
    return rows


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
