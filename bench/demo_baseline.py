#!/usr/bin/env python
"""RetinaNet-MobileNetV2 on the demo data: ImageNet seed vs from scratch, same schedule.

    python bench/demo_baseline.py [--seeds 0 1 2] [--tiny] [other bench/demo_compare.py options]

Runs bench/demo_compare.py on ``configs/baselines/retinanet_mbv2_fpn_demo.py`` (backbone from
``detnas://mobilenet_v2_imagenet``) and ``retinanet_mbv2_fpn_scratch_demo.py`` (the same
model and schedule, random init) and adds ``ap_imagenet`` / ``ap_scratch`` (mean COCO AP in
[0, 1]) with their per-seed values to ``bench/results/demo_baseline.json``.
"""
import sys

from detnas.experiments import compare

ARMS = dict(imagenet='configs/baselines/retinanet_mbv2_fpn_demo.py',
            scratch='configs/baselines/retinanet_mbv2_fpn_scratch_demo.py')


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    defaults = ['--out', 'bench/results/demo_baseline', '--work-dir',
                'work_dirs/bench_demo_baseline']
    if '--tiny' in argv:
        defaults[1] = 'work_dirs/bench_demo_baseline_tiny/demo_baseline'
    args = [f'{arm}={cfg}' for arm, cfg in ARMS.items()] + defaults + argv
    out = compare.parse_args(args).out
    result = compare.main(args)
    result['command'] = ' '.join(['python', 'bench/demo_baseline.py', *argv])
    for row in result['rows']:
        result[f'ap_{row["name"]}'] = row['AP']
        result[f'ap_{row["name"]}_per_seed'] = row['AP_per_seed']
        result[f'ap_s_{row["name"]}'] = row['AP_s']
    compare.write(result, out)
    return result


if __name__ == '__main__':
    main()
