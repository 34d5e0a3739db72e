"""Map a pretrained seed into the backbone of a config; write the checkpoint and the report.

    python tools/analysis/map_weights.py CONFIG [--seed detnas://mobilenet_v2_imagenet]
        [--out work_dirs/mapped/backbone.pth] [--narrow l1] [--widen net2net]
        [--deepen identity] [--mode auto] [--rows 40]
        [--calibration data/demo_coco/train [--calibration-num 64] [--calibration-size 320 320]
         [--distill-steps 200 [--distill-lr 1e-4]]]

CONFIG is a detector config (its ``model.backbone`` is the target) or a backbone config.
Writes the mapped backbone (``state_dict`` in the backbone's names, loadable with
``init_cfg=dict(type='Pretrained', checkpoint=OUT)``) and OUT's ``.json`` report, and prints
the report table. With ``--calibration DIR`` the pointwise convs are then refitted by least
squares to reproduce the seed's outputs on DIR's images (labels unused; see
``detnas.nas.mapping.refit``; the last block of a stage kept shallower is fitted to the
seed's stage output, standing in for the dropped blocks), which recovers much of what
narrowing or dropping layers loses;
``--distill-steps N`` then trains the whole backbone for N steps to reproduce the seed's
stage outputs on the same images (``detnas.nas.mapping.distill``).
"""
import argparse
import os.path as osp


def parse_args():
    from detnas.nas.mapping.api import MODES
    from detnas.nas.mapping.cross_family import CHANNEL_RULES
    from detnas.nas.mapping.selection import NARROW_RULES, WIDEN_RULES
    from detnas.nas.mapping.within_family import DEEPEN_RULES
    p = argparse.ArgumentParser(description='Map pretrained weights into a config\'s backbone')
    p.add_argument('config', help='detector or backbone config file')
    p.add_argument('--seed', default='detnas://mobilenet_v2_imagenet',
                   help='seed checkpoint: path, URL or detnas:// alias')
    p.add_argument('--out', help='output checkpoint (default: work_dirs/mapped/<config>.pth)')
    p.add_argument('--mode', choices=MODES, default='auto')
    p.add_argument('--narrow', choices=NARROW_RULES, default='l1')
    p.add_argument('--widen', choices=WIDEN_RULES, default='net2net')
    p.add_argument('--deepen', choices=DEEPEN_RULES, default='identity')
    p.add_argument('--cross-channels', choices=CHANNEL_RULES, default='magnitude')
    p.add_argument('--min-similarity', type=float, default=0.0)
    p.add_argument('--prefix', default='', help="key prefix, e.g. 'backbone.' for load_from")
    p.add_argument('--rows', type=int, default=None, help='table rows to print (all)')
    p.add_argument('--calibration', metavar='DIR',
                   help='images to refit the pointwise convs on (e.g. the training images)')
    p.add_argument('--calibration-num', type=int, default=64, help='images used')
    p.add_argument('--calibration-size', type=int, nargs=2, default=(320, 320),
                   metavar=('H', 'W'), help='resize to this before the refit')
    p.add_argument('--distill-steps', type=int, default=0,
                   help='after the refit, distill the stage outputs for this many steps')
    p.add_argument('--distill-lr', type=float, default=1e-4, help='distillation Adam lr')
    args = p.parse_args()
    if args.distill_steps and not args.calibration:
        p.error('--distill-steps needs --calibration DIR (the images to distill on)')
    return args


def main():
    args = parse_args()
    from mmengine.config import Config
    from detnas.nas.mapping import (MappingConfig, MappingError, calibration_images,
                                    distill_mapping, map_weights, refit_mapping,
                                    seed_backbone)
    from detnas.nas.mapping.spec import build_backbone, init_state_dict
    cfg = Config.fromfile(args.config)
    backbone = cfg.get('model', {}).get('backbone') if 'model' in cfg else cfg.get('backbone')
    if backbone is None:
        raise MappingError(f'{args.config} has neither model.backbone nor backbone')
    target = build_backbone(backbone.to_dict() if hasattr(backbone, 'to_dict')
                            else dict(backbone))
    rules = MappingConfig(mode=args.mode, narrow=args.narrow, widen=args.widen,
                          deepen=args.deepen, cross_channels=args.cross_channels,
                          min_similarity=args.min_similarity)
    result = map_weights(args.seed, target, rules, target_state=init_state_dict(target))
    if args.calibration:
        images = calibration_images(args.calibration, args.calibration_num,
                                    tuple(args.calibration_size))
        seed = seed_backbone(args.seed)
        refit_mapping(result, seed, target, images)
        refit = result.report.meta['refit']
        print(f"refit: {refit['convs']} pointwise convs, mean relative output error "
              f"{refit['mean_err_before']:.3f} -> {refit['mean_err_after']:.3f}"
              + ''.join(f'; {conv} stands in for the dropped {", ".join(blocks)}'
                        for conv, blocks in refit['absorbed'].items()))
        if args.distill_steps:
            stats = distill_mapping(result, seed, target, images, steps=args.distill_steps,
                                    lr=args.distill_lr)
            print(f"distillation: stage-output error {stats['err_before']:.3f} -> "
                  f"{stats['err_after']:.3f} on {stats['heldout_images']} held-out images"
                  + (' (it grew: the refitted weights are kept)' if stats['reverted'] else ''))
    name = osp.splitext(osp.basename(args.config))[0]
    out = args.out or osp.join('work_dirs', 'mapped', f'{name}.pth')
    report = osp.splitext(out)[0] + '.json'
    result.save(out, report, prefix=args.prefix)
    print(result.report.table(limit=args.rows))
    print(f'checkpoint: {out}\nreport: {report}')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
