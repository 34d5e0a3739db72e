"""Evaluate a trained detector (mmdet's tools/test.py conventions).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--json-prefix PREFIX]
                         [--out FILE.pkl] [--show-dir DIR] [--cfg-options k=v ...]
                         [--launcher pytorch]

The checkpoint must fit the model key for key (a mismatch is an error listing the keys);
the checkpoint and the test data are checked before the runner prints or makes folders.
--json-prefix also writes PREFIX.bbox.json, which tools/eval_coco.py evaluates; --out
dumps the raw predictions (mmdet's DumpDetResults pickle); --show-dir draws ground truth and
predictions of every test image into WORK_DIR/TIMESTAMP/DIR (mmdet's visualization hook).
"""
import argparse
import json
import os
import os.path as osp

from detnas.utils.cli import add_config_args, parse_tool_args


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--json-prefix', help='write detections to PREFIX.bbox.json')
    parser.add_argument('--out', help='dump the predictions to this .pkl file')
    parser.add_argument('--show-dir', help='draw the predictions into this folder of the '
                        'run folder')
    add_config_args(parser, 'test', 'test_evaluator.classwise=True')
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    import detnas  # noqa: F401
    from detnas.utils.checkpoint import load_checked_state_dict
    from detnas.utils.config import (build_model, build_runner, default_work_dir,
                                     load_config, prepare_runtime)
    from detnas.utils.errors import DetnasInputError
    from detnas.utils.preflight import check_datasets

    if not osp.isfile(args.checkpoint):
        raise DetnasInputError(f'checkpoint {args.checkpoint!r} does not exist')
    cfg = load_config(args.config, args.cfg_options, args.allow_new_keys)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    cfg.load_from = args.checkpoint
    cfg.model.setdefault('backbone', {})['init_cfg'] = None  # weights come from CHECKPOINT
    if args.json_prefix:
        cfg.test_evaluator.outfile_prefix = args.json_prefix
    if args.out and not args.out.endswith(('.pkl', '.pickle')):
        raise DetnasInputError(f'--out {args.out!r}: give a .pkl or .pickle file')
    if args.show_dir:
        cfg.default_hooks.visualization.update(draw=True, test_out_dir=args.show_dir)
    prepare_runtime(cfg)
    # a refused run leaves nothing behind: checkpoint and data first, then the runner
    load_checked_state_dict(build_model(cfg, args.config), args.checkpoint, args.config)
    check_datasets(cfg, ('test_dataloader', ))
    runner = build_runner(cfg, args.config)
    if args.out:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    metrics = runner.test()
    if runner.rank == 0:
        os.makedirs(cfg.work_dir, exist_ok=True)
        with open(osp.join(cfg.work_dir, 'test_metrics.json'), 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
