"""Adapt a seed detector's backbone by architecture search (supernet + NSGA-II) and export it.

    python tools/search.py CONFIG [--work-dir DIR] [--seed N] [--resume]
                                  [--cfg-options k=v ...] [--launcher pytorch]

CONFIG is a detector config with a pretrained MobileNetV2 seed backbone plus a ``search``
section (configs/search/README.md). Outputs go to ``<work-dir>/search/`` (default work dir:
work_dirs/<config name>): pareto.json/csv/png, chosen.yaml, chosen.py + chosen.pth (fine-tune
with ``python tools/train.py <work-dir>/search/chosen.py``), latency_check.json.
Distributed: torchrun --nproc_per_node N tools/search.py CONFIG --launcher pytorch.
"""
import argparse
import os
import shutil

from detnas.utils.cli import add_config_args, parse_tool_args


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='search config file')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the held-out split, the supernet and the evolution')
    parser.add_argument('--resume', action='store_true',
                        help='continue supernet training and the evolution from their saved '
                        'state in <work-dir>/search')
    add_config_args(parser, 'search', 'search.evolution.generations=2', ('none', 'pytorch'))
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    import torch

    import detnas  # noqa: F401  registers detnas modules
    from mmengine.dist import get_dist_info, init_dist
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from detnas.nas.pipeline import LOGGER_NAME, SearchPlan, SearchSettings, run_search
    from detnas.utils.config import build_model, default_work_dir, load_config, prepare_runtime
    from detnas.utils.errors import DetnasInputError
    from detnas.utils.lock import WorkDirLock
    from detnas.utils.preflight import check_datasets, check_pretrained_inits

    cfg = load_config(args.config, args.cfg_options, args.allow_new_keys,
                      defaults=SearchSettings.config_keys())
    work_dir = args.work_dir or cfg.get('work_dir') or default_work_dir(args.config)
    cfg.launcher = args.launcher
    prepare_runtime(cfg)  # on CPU: gloo process group made here
    if args.launcher != 'none' and not torch.distributed.is_initialized():
        init_dist(args.launcher, **cfg.env_cfg.get('dist_cfg', {}))
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    # everything is read and checked before the first folder is made
    plan = SearchPlan.from_config(cfg, work_dir, args.seed, args.resume, args.launcher)
    check_pretrained_inits(plan.seed_cfg, build_model(plan.seed_cfg, args.config))
    check_datasets(plan.seed_cfg, ('train_dataloader',))
    # the folders this run makes: a refused run (DetnasInputError) removes them again
    made = next((d for d in (work_dir, plan.search_dir) if not os.path.exists(d)), None)
    lock = WorkDirLock(plan.search_dir, f'the search of {args.config}')
    rank = get_dist_info()[0]
    if rank == 0:
        lock.acquire()
        MMLogger.get_instance(LOGGER_NAME, log_file=os.path.join(plan.search_dir, 'search.log'),
                              log_level=cfg.get('log_level', 'INFO'))
    else:
        MMLogger.get_instance(LOGGER_NAME, log_level='WARNING')
    try:
        run_search(plan)
    except DetnasInputError:
        if made and rank == 0:  # e.g. an unreachable constraint, found after the split
            shutil.rmtree(made, ignore_errors=True)
        raise
    finally:
        lock.release()


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
