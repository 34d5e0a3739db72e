"""Train a detector with mmengine's Runner (mmdet's tools/train.py conventions).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher pytorch]

Distributed: tools/dist_train.sh CONFIG NUM_PROCS (torchrun; gloo without CUDA).
"""
import argparse
import os.path as osp

from detnas.utils.cli import add_config_args, parse_tool_args


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='train config file')
    parser.add_argument('--amp', action='store_true', help='mixed precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by the actual batch size')
    parser.add_argument('--resume', nargs='?', const='auto',
                        help='resume from CKPT, or from the latest checkpoint in work-dir')
    add_config_args(parser, 'train')
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    import detnas  # noqa: F401  registers detnas modules
    from detnas.utils.config import (build_runner, default_work_dir, load_config,
                                     prepare_runtime)
    from detnas.utils.errors import DetnasInputError

    cfg = load_config(args.config, args.cfg_options, args.allow_new_keys)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        if not osp.isfile(args.resume):
            raise DetnasInputError(f'--resume checkpoint {args.resume!r} does not exist')
        cfg.resume, cfg.load_from = True, args.resume
    if cfg.get('load_from') and '://' not in cfg.load_from and not osp.isfile(cfg.load_from):
        raise DetnasInputError(f'load_from checkpoint {cfg.load_from!r} does not exist')
    prepare_runtime(cfg)
    runner = build_runner(cfg, args.config)
    runner.train()


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
