"""Benchmark of the dilated-deformable fusion op (detnas.ops) against its alternatives.

Variants, all with P = len(dilations) * k * k points per location and group:
  kernel      the compiled op (CPU C++ or CUDA kernel), offsets + weights packed in one tensor
  reference   the PyTorch reference (one grid_sample over all points, then weight and sum)
  multibranch the non-deformable multi-branch baseline: one depthwise dilated conv per rate
              (k x k, groups=C) plus a softmax attention over the rates per location and group
  mmcv_mdcn   (GPU only) mmcv ModulatedDeformConv2d, depthwise, kernel (k, R*k) = P points

CPU:  forward and forward+backward time (best of the repeats) and peak memory (resident-set
      growth of a fresh subprocess running one forward+backward; Linux VmHWM).
CUDA: the same in fp32 and bf16 with CUDA events and torch.cuda.max_memory_allocated, the
      achieved bandwidth of the kernel's forward (minimum bytes: read x and offset_weight,
      write out) against the measured device copy bandwidth, and kernel = reference checks.

Usage:
    python bench/ddf_op.py --quick            # CPU, one neck-like size, < 1 min
    python bench/ddf_op.py                    # CPU, all sizes
    python bench/ddf_op.py --device cuda      # GPU (writes ddf_op_cuda.json / .md)
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from detnas.ops import (dilated_deform_fusion, dilated_deform_fusion_reference,
                        has_kernel, num_points)

DILATIONS = (1, 2, 3)
K = 3
GROUPS = 4
QUICK_SIZES = [(2, 64, 48, 48)]
CPU_SIZES = [(2, 64, 48, 48), (2, 64, 80, 80), (1, 128, 64, 64)]
CUDA_SIZES = [(8, 128, 80, 80), (8, 256, 40, 40), (2, 256, 160, 160)]


def make_inputs(shape, dtype, device, seed=0):
    n, c, h, w = shape
    gen = torch.Generator().manual_seed(seed)
    p = num_points(DILATIONS, K)
    x = torch.randn(n, c, h, w, generator=gen).to(device, dtype)
    ow = torch.randn(n, GROUPS * 3 * p, h, w, generator=gen).to(device, dtype)
    # multi-branch baseline: depthwise kernels of every rate and attention logits per group
    mb_w = (torch.randn(len(DILATIONS), c, 1, K, K, generator=gen) / K).to(device, dtype)
    mb_logits = torch.randn(n, GROUPS * len(DILATIONS), h, w, generator=gen).to(device, dtype)
    return x, ow, mb_w, mb_logits


def multibranch(x, weights, logits):
    """sum_r softmax_r(logits) * dwconv_r(x): the classic multi-rate context block."""
    n, c, h, w = x.shape
    r = len(DILATIONS)
    att = logits.view(n, GROUPS, r, h, w).softmax(dim=2)
    att = att.repeat_interleave(c // GROUPS, dim=1)  # (n, c, r, h, w)
    out = 0
    for i, d in enumerate(DILATIONS):
        branch = F.conv2d(x, weights[i], padding=d * (K // 2), dilation=d, groups=c)
        out = out + branch * att[:, :, i]
    return out


def build_variant(name, shape, dtype, device):
    """Returns (forward fn, tensors that need grad)."""
    x, ow, mb_w, mb_logits = make_inputs(shape, dtype, device)
    if name == 'kernel':
        return (lambda: dilated_deform_fusion(x, ow, DILATIONS, K, GROUPS, softmax=True)), (x, ow)
    if name == 'reference':
        return (lambda: dilated_deform_fusion_reference(x, ow, DILATIONS, K, GROUPS, True)), (x,
                                                                                             ow)
    if name == 'multibranch':
        return (lambda: multibranch(x, mb_w, mb_logits)), (x, mb_w, mb_logits)
    if name == 'mmcv_mdcn':
        from mmcv.ops import modulated_deform_conv2d
        n, c, h, w = shape
        r = len(DILATIONS)
        kh, kw = K, K * r  # same number of points P = r * k * k
        off = torch.randn(n, GROUPS * 2 * kh * kw, h, w, device=device, dtype=dtype)
        mask = torch.rand(n, GROUPS * kh * kw, h, w, device=device, dtype=dtype)
        weight = torch.randn(c, 1, kh, kw, device=device, dtype=dtype)
        return (lambda: modulated_deform_conv2d(x, off, mask, weight, None, 1,
                                                (kh // 2, kw // 2), 1, c, GROUPS)), (x, off,
                                                                                     mask,
                                                                                     weight)
    raise ValueError(name)


def _sync(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def time_variant(name, shape, dtype, device, reps, backward):
    fn, leaves = build_variant(name, shape, dtype, device)
    for t in leaves:
        t.requires_grad_(backward)
    grad = None

    def step():
        out = fn()
        if backward:
            nonlocal grad
            if grad is None:
                grad = torch.randn_like(out)
            torch.autograd.grad(out, leaves, grad)

    step()  # warm-up
    _sync(device)
    times = []
    for _ in range(reps):
        if device == 'cuda':
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
    peak = None
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    # best of the repeats: on a shared machine the minimum is the least disturbed sample
    return min(times), peak


def cpu_peak_mib(name, shape):
    """Resident-memory growth (MiB) of one forward+backward in a fresh process."""
    cmd = [sys.executable, os.path.abspath(__file__), '--_peak', name, '--_shape',
           ','.join(map(str, shape))]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])['peak_mib']


def _vm(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def _peak_child(name, shape):
    torch.set_num_threads(1)
    fn, leaves = build_variant(name, shape, torch.float32, 'cpu')
    for t in leaves:
        t.requires_grad_(True)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset the high-water mark to the current resident size
    base = _vm('VmRSS')
    out = fn()
    torch.autograd.grad(out, leaves, torch.ones_like(out))
    print(json.dumps({'peak_mib': _vm('VmHWM') - base}))


def _load_average():
    """1-minute load average (on a shared machine every time is then pessimistic)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _cpu_kernel_isa():
    """Which CPU kernels the op runs for float32: 'avx2' (AVX2 + FMA present) or 'generic'."""
    if os.environ.get('DETNAS_DDF_CPU_ISA') == 'generic' or platform.machine() != 'x86_64':
        return 'generic'
    try:
        with open('/proc/cpuinfo') as f:
            flags = next((line.split() for line in f if line.startswith('flags')), [])
    except OSError:
        return 'unknown'
    return 'avx2' if {'avx2', 'fma'} <= set(flags) else 'generic'


def copy_bandwidth_gbs():
    a = torch.empty(512 * 2**20, dtype=torch.uint8, device='cuda')
    b = torch.empty_like(a)
    b.copy_(a)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(10):
        b.copy_(a)
    end.record()
    torch.cuda.synchronize()
    return 2 * a.numel() * 10 / (start.elapsed_time(end) / 1e3) / 1e9


def check_cuda_against_reference(shape, dtype):
    x, ow, _, _ = make_inputs(shape, dtype, 'cuda', seed=1)
    go = torch.randn_like(x)
    res = {}
    for name, fn in (('kernel', dilated_deform_fusion), ('reference',
                                                         dilated_deform_fusion_reference)):
        xs, ows = x.clone().requires_grad_(), ow.clone().requires_grad_()
        out = fn(xs, ows, DILATIONS, K, GROUPS, softmax=True)
        gx, gow = torch.autograd.grad(out, (xs, ows), go)
        res[name] = [out.float(), gx.float(), gow.float()]
    errs = {
        k: (a - b).abs().max().item() / max(b.abs().max().item(), 1e-12)
        for k, a, b in zip(('out', 'grad_x', 'grad_offset_weight'), res['kernel'],
                           res['reference'])
    }
    xs, ows = x.clone().requires_grad_(), ow.clone().requires_grad_()
    det = []
    for _ in range(2):
        out = dilated_deform_fusion(xs, ows, DILATIONS, K, GROUPS, True, deterministic=True)
        det.append(torch.autograd.grad(out, (xs, ows), go))
    errs['deterministic_bitwise_equal'] = all(torch.equal(a, b) for a, b in zip(*det))
    errs['deterministic_grad_x_rel_err'] = ((det[0][0].float() - res['reference'][1]).abs().max()
                                            / res['reference'][1].abs().max()).item()
    return errs


def run(device, sizes, reps, variants, dtypes):
    rows = []
    for dtype in dtypes:
        for shape in sizes:
            row = dict(shape=list(shape), dtype=str(dtype).replace('torch.', ''))
            for v in variants:
                try:
                    fwd, peak_fwd = time_variant(v, shape, dtype, device, reps, backward=False)
                    fb, peak = time_variant(v, shape, dtype, device, reps, backward=True)
                except Exception as err:  # e.g. mmcv without CUDA ops
                    row[v] = dict(error=f'{type(err).__name__}: {err}'[:200])
                    continue
                if device == 'cpu':
                    peak = cpu_peak_mib(v, shape)
                row[v] = dict(fwd_ms=fwd * 1e3, fwd_bwd_ms=fb * 1e3, peak_mib=peak)
                print(f'{device} {row["dtype"]} {shape} {v:12s} fwd {fwd * 1e3:9.2f} ms  '
                      f'fwd+bwd {fb * 1e3:9.2f} ms  peak {peak:8.1f} MiB', flush=True)
            k, r = row.get('kernel', {}), row.get('reference', {})
            if 'fwd_ms' in k and 'fwd_ms' in r:
                row['speedup_fwd'] = r['fwd_ms'] / k['fwd_ms']
                row['speedup_fwd_bwd'] = r['fwd_bwd_ms'] / k['fwd_bwd_ms']
                row['peak_ratio_reference_over_kernel'] = r['peak_mib'] / max(k['peak_mib'], 1e-3)
            m = row.get('multibranch', {})
            if 'fwd_ms' in k and 'fwd_ms' in m:
                row['speedup_fwd_bwd_vs_multibranch'] = m['fwd_bwd_ms'] / k['fwd_bwd_ms']
            if device == 'cuda' and 'fwd_ms' in k:
                n, c, h, w = shape
                elt = torch.empty((), dtype=dtype).element_size()
                nbytes = elt * (2 * n * c * h * w + n * GROUPS * 3 * num_points(DILATIONS, K) * h *
                                w)
                row['kernel_fwd_gbs'] = nbytes / (k['fwd_ms'] / 1e3) / 1e9
            rows.append(row)
    return rows


def write_markdown(path, meta, rows):
    lines = [
        f'# dilated_deform_fusion benchmark ({meta["device"]})', '',
        f'Command: `{meta["command"]}`  ', f'Machine: {meta["machine"]}; torch {meta["torch"]}; '
        f'threads {meta["threads"]}; CPU kernel ISA {meta.get("cpu_kernel_isa")}; '
        f'load average {meta.get("load_average_before")} -> '
        f'{meta.get("load_average_after")}  ',
        f'Op: dilations {list(DILATIONS)}, kernel {K}, groups {GROUPS}, softmax, '
        f'P = {num_points(DILATIONS, K)} points', '',
        '| shape (N,C,H,W) | dtype | variant | fwd ms | fwd+bwd ms | peak MiB |',
        '|---|---|---|---:|---:|---:|'
    ]
    for row in rows:
        for v in ('kernel', 'reference', 'multibranch', 'mmcv_mdcn'):
            if v not in row:
                continue
            d = row[v]
            if 'error' in d:
                lines.append(f'| {tuple(row["shape"])} | {row["dtype"]} | {v} | '
                             f'{d["error"]} | | |')
                continue
            lines.append(f'| {tuple(row["shape"])} | {row["dtype"]} | {v} | {d["fwd_ms"]:.2f} | '
                         f'{d["fwd_bwd_ms"]:.2f} | {d["peak_mib"]:.1f} |')
    lines += ['', '| shape | dtype | speed-up fwd (ref/kernel) | speed-up fwd+bwd (ref/kernel) | '
              'peak memory ref/kernel | fwd+bwd multibranch/kernel |',
              '|---|---|---:|---:|---:|---:|']
    for row in rows:
        if 'speedup_fwd' in row:
            lines.append(f'| {tuple(row["shape"])} | {row["dtype"]} | {row["speedup_fwd"]:.1f}x | '
                         f'{row["speedup_fwd_bwd"]:.1f}x | '
                         f'{row["peak_ratio_reference_over_kernel"]:.1f}x | '
                         f'{row.get("speedup_fwd_bwd_vs_multibranch", float("nan")):.2f}x |')
    if meta.get('copy_bandwidth_gbs'):
        lines += ['', f'Device copy bandwidth (memory-bound limit): '
                  f'{meta["copy_bandwidth_gbs"]:.0f} GB/s']
        for row in rows:
            if 'kernel_fwd_gbs' in row:
                lines.append(f'- {tuple(row["shape"])} {row["dtype"]}: kernel forward '
                             f'{row["kernel_fwd_gbs"]:.0f} GB/s = '
                             f'{100 * row["kernel_fwd_gbs"] / meta["copy_bandwidth_gbs"]:.0f} %')
    if meta.get('correctness'):
        lines += ['', 'CUDA kernel vs reference (max abs error / max abs value):', '']
        for k, v in meta['correctness'].items():
            lines.append(f'- {k}: {v}')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='one CPU size, < 1 minute')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--reps', type=int, default=None)
    parser.add_argument('--out-dir', default=os.path.join(ROOT, 'bench', 'results'))
    parser.add_argument('--_peak', help=argparse.SUPPRESS)
    parser.add_argument('--_shape', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._peak:
        return _peak_child(args._peak, tuple(int(v) for v in args._shape.split(',')))

    if not has_kernel(args.device):
        raise SystemExit(f'no compiled {args.device} kernel: build detnas with '
                         '`pip install --no-build-isolation -e .` first')
    meta = dict(
        command='python bench/ddf_op.py ' + ' '.join(sys.argv[1:]),
        device=args.device,
        machine=f'{platform.machine()}, {os.cpu_count()} CPUs',
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        cpu_kernel_isa=_cpu_kernel_isa(),
        load_average_before=_load_average(),
        note=('CPU peak memory: resident-set growth of one fwd+bwd in a fresh single-thread '
              'process; times: best of the repeats, all threads'))
    if args.device == 'cpu':
        sizes = QUICK_SIZES if args.quick else CPU_SIZES
        reps = args.reps or 10
        rows = run('cpu', sizes, reps, ['kernel', 'reference', 'multibranch'], [torch.float32])
        name = 'ddf_op_cpu'
    else:
        meta['device'] = torch.cuda.get_device_name()
        meta['copy_bandwidth_gbs'] = copy_bandwidth_gbs()
        meta['correctness'] = {
            str(dt).replace('torch.', ''): check_cuda_against_reference((2, 64, 40, 40), dt)
            for dt in (torch.float32, torch.bfloat16)
        }
        rows = run('cuda', CUDA_SIZES[:1] if args.quick else CUDA_SIZES, args.reps or 20,
                   ['kernel', 'reference', 'multibranch', 'mmcv_mdcn'],
                   [torch.float32, torch.bfloat16])
        name = 'ddf_op_cuda'
    meta['load_average_after'] = _load_average()
    result = dict(meta=meta, rows=rows)
    if rows and 'speedup_fwd_bwd' in rows[0]:
        result['speedup_fwd_bwd'] = rows[0]['speedup_fwd_bwd']
        result['speedup_fwd'] = rows[0]['speedup_fwd']
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, name + '.json'), 'w') as f:
        json.dump(result, f, indent=2)
    write_markdown(os.path.join(args.out_dir, name + '.md'), meta, rows)
    print(f'wrote {os.path.join(args.out_dir, name)}.json / .md')


if __name__ == '__main__':
    main()
