#!/usr/bin/env python
"""Parameters and multiply-accumulates of a config's model.

    python tools/analysis/get_flops.py CONFIG [--shape H W] [--deploy] [--json]
        [--part model|backbone|neck|head] [--cfg-options k=v ...]

MACs are counted by mmengine's FlopAnalyzer (1 MAC = one multiply-add); GFLOPs are printed
as 2 x MACs, as YOLO papers do. --deploy fuses re-parameterisable blocks first.
"""
import argparse
import json

from mmengine.config import DictAction

PARTS = dict(backbone='backbone', neck='neck', head='bbox_head')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+', default=[640, 640],
                        help='input H W (one value: square)')
    parser.add_argument('--deploy', action='store_true',
                        help='call switch_to_deploy() on fusable blocks first')
    parser.add_argument('--part', choices=['model', *PARTS], default='model',
                        help='count only this part (its input is the image for the backbone)')
    parser.add_argument('--json', action='store_true', help='print one JSON object')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    import detnas  # noqa: F401
    from detnas.utils.complexity import count_params, model_complexity
    from detnas.utils.config import build_detector, load_config
    from detnas.utils.errors import DetnasInputError

    if len(args.shape) not in (1, 2):
        raise DetnasInputError('--shape takes H W or a single size')
    shape = tuple(args.shape * 2 if len(args.shape) == 1 else args.shape)
    cfg = load_config(args.config, args.cfg_options)
    model = build_detector(cfg)  # random weights: counting and timing need none
    if args.part == 'backbone':
        result = model_complexity(model.backbone, shape, args.deploy)
    else:
        result = model_complexity(model, shape, args.deploy)
        if args.part != 'model':
            result = dict(params=count_params(getattr(model, PARTS[args.part])))
    result = dict(config=args.config, part=args.part, shape=list(shape), deploy=args.deploy,
                  **result)
    if args.json:
        print(json.dumps(result))
        return
    print(f'config: {args.config} ({args.part}, input {shape[0]}x{shape[1]}'
          f'{", deploy" if args.deploy else ""})')
    print(f'params: {result["params"] / 1e6:.3f} M')
    if 'macs' in result:
        print(f'MACs:   {result["macs"] / 1e9:.3f} G   (GFLOPs = 2 x MACs: '
              f'{result["gflops"]:.3f})')


if __name__ == '__main__':
    from detnas.utils.cli import run_tool
    run_tool(main)
