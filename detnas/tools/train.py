"""Train a detector with mmengine's Runner (mmdet's tools/train.py conventions).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher pytorch]

Distributed: tools/dist_train.sh CONFIG NUM_PROCS (torchrun; gloo without CUDA).
"""
import argparse
import os

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
    from detnas.utils.config import (build_model, build_runner, default_work_dir,
                                     load_config, prepare_runtime)
    from detnas.utils.lock import WorkDirLock
    from detnas.utils.preflight import (check_checkpoint_file, check_datasets,
                                        check_pretrained_inits, resume_checkpoint,
                                        resumed_seed, warn_unknown_top_level_keys)

    cfg = load_config(args.config, args.cfg_options, args.allow_new_keys)
    warn_unknown_top_level_keys(cfg, args.config)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    if args.amp:
        import torch
        from detnas.utils.errors import DetnasInputError
        if not torch.cuda.is_available():  # mmengine's AmpOptimWrapper asserts a device
            raise DetnasInputError('--amp needs a CUDA device and this machine has none; '
                                   'train without --amp')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    # every input is checked before the runner prints, makes folders or trains
    if args.resume == 'auto':
        resume_from = resume_checkpoint(cfg.work_dir)
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        check_checkpoint_file(args.resume, '--resume')
        resume_from = args.resume
        cfg.resume, cfg.load_from = True, args.resume
    if args.resume:  # same seed, so the same sampler order and worker seeds as before
        seed = resumed_seed(resume_from)
        if seed is not None:
            cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    if cfg.get('load_from'):
        check_checkpoint_file(cfg.load_from, 'load_from')
    prepare_runtime(cfg)
    model = build_model(cfg, args.config)  # a misspelt key fails here, named
    check_pretrained_inits(cfg, None if cfg.get('load_from') or cfg.get('resume') else model)
    del model
    check_datasets(cfg)
    lock = WorkDirLock(cfg.work_dir, f'training of {args.config}')
    if os.environ.get('RANK', '0') == '0':
        lock.acquire()
    try:
        runner = build_runner(cfg, args.config)
        runner.train()
    finally:
        lock.release()


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
