"""Tests of the dilated-deformable fusion op: reference, CPU kernel, Meta kernel, errors."""
import warnings

import pytest
import torch
import torch.nn.functional as F

from detnas.ops import (DilatedDeformFusion, _ext, dilated_deform_fusion,
                        dilated_deform_fusion_reference, num_points)

F64 = torch.float64


def _inputs(n, c, h, w, dilations, k, groups, offset_scale=1.5, seed=0, dtype=F64):
    gen = torch.Generator().manual_seed(seed)
    p = num_points(dilations, k)
    x = torch.randn(n, c, h, w, generator=gen, dtype=dtype)
    ow = torch.randn(n, groups * 3 * p, h, w, generator=gen, dtype=dtype)
    ow = ow.view(n, groups, 3 * p, h, w)
    ow[:, :, :2 * p] *= offset_scale  # offsets of a few pixels: many points cross the border
    return x, ow.view(n, groups * 3 * p, h, w)


def _kernel(*args, **kw):
    assert _ext.has_kernel('cpu'), (
        'the CPU op is not built: run `pip install --no-build-isolation -e .` '
        f'({_ext.EXT_ERROR})')
    return dilated_deform_fusion(*args, **kw)


def _grads(fn, x, ow, go, **kw):
    x = x.clone().requires_grad_()
    ow = ow.clone().requires_grad_()
    out = fn(x, ow, **kw)
    gx, gow = torch.autograd.grad(out, (x, ow), go)
    return out.detach(), gx, gow


CASES = [
    # n, c, h, w, dilations, k, groups, softmax
    (2, 4, 5, 7, (1, 2), 3, 2, False),
    (1, 6, 9, 4, (1, 2, 3), 3, 3, True),
    (3, 3, 1, 6, (2, ), 3, 1, False),  # a single row
    (1, 8, 6, 1, (1, 4), 3, 4, True),  # a single column
    (2, 5, 7, 3, (3, 5), 1, 5, False),  # 1x1 grid: one point per rate
    (1, 4, 11, 8, (1, 2), 5, 2, True),
    (1, 2, 2, 2, (6, ), 3, 1, False),  # dilation larger than the image
]


@pytest.mark.parametrize('n,c,h,w,dilations,k,groups,softmax', CASES)
def test_cpu_kernel_matches_reference_forward_and_gradients(n, c, h, w, dilations, k, groups,
                                                            softmax):
    x, ow = _inputs(n, c, h, w, dilations, k, groups, seed=n * 100 + c)
    go = torch.randn(n, c, h, w, dtype=F64)
    kw = dict(dilations=dilations, kernel_size=k, groups=groups, softmax=softmax)
    ref = _grads(dilated_deform_fusion_reference, x, ow, go, **kw)
    ker = _grads(_kernel, x, ow, go, **kw)
    for name, a, b in zip(('out', 'grad_x', 'grad_offset_weight'), ker, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10, msg=name)
    assert ref[0].abs().sum() > 0 and ref[2].abs().sum() > 0  # not a trivial all-zero case


def test_cpu_kernel_float32_matches_reference():
    x, ow = _inputs(2, 16, 12, 10, (1, 2, 3), 3, 4, dtype=torch.float32)
    go = torch.randn_like(x)
    kw = dict(dilations=(1, 2, 3), kernel_size=3, groups=4, softmax=True)
    ref = _grads(dilated_deform_fusion_reference, x, ow, go, **kw)
    ker = _grads(_kernel, x, ow, go, **kw)
    for a, b in zip(ker, ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('softmax', [False, True])
def test_gradcheck_fp64_cpu_kernel_and_reference(softmax):
    x, ow = _inputs(1, 4, 4, 5, (1, 2), 3, 2, seed=3)
    x.requires_grad_()
    ow.requires_grad_()
    kw = dict(dilations=(1, 2), kernel_size=3, groups=2, softmax=softmax)
    assert torch.autograd.gradcheck(lambda a, b: _kernel(a, b, **kw), (x, ow))
    assert torch.autograd.gradcheck(
        lambda a, b: dilated_deform_fusion_reference(a, b, **kw), (x, ow))


def test_batch_zero_and_zero_channels():
    for fn in (_kernel, dilated_deform_fusion_reference):
        x, ow = _inputs(0, 4, 5, 5, (1, 2), 3, 2)
        x.requires_grad_()
        ow.requires_grad_()
        out = fn(x, ow, dilations=(1, 2), kernel_size=3, groups=2)
        assert out.shape == (0, 4, 5, 5)
        out.sum().backward()
        assert x.grad.shape == x.shape and ow.grad.shape == ow.shape


def _dilated_depthwise_sum(x, weights, dilations, k, groups):
    """sum_r depthwise conv(x, dilation d_r) whose taps are the fixed point weights."""
    n, c, h, w = x.shape
    cg = c // groups
    out = torch.zeros_like(x)
    for r, d in enumerate(dilations):
        taps = weights[:, r * k * k:(r + 1) * k * k].reshape(groups, 1, k, k)
        kernel = taps.repeat_interleave(cg, dim=0)  # (c, 1, k, k): every channel of a group
        out = out + F.conv2d(x, kernel, padding=d * (k // 2), dilation=d, groups=c)
    return out


@pytest.mark.parametrize('k,dilations,groups', [(3, (1, 2, 3), 2), (5, (1, 3), 3), (1, (2, ), 1)])
def test_zero_offsets_fixed_weights_equal_dilated_depthwise_convs(k, dilations, groups):
    n, c, h, w = 2, 6, 9, 8
    p = num_points(dilations, k)
    x = torch.randn(n, c, h, w, dtype=F64)
    weights = torch.randn(groups, p, dtype=F64)
    ow = torch.zeros(n, groups, 3 * p, h, w, dtype=F64)
    ow[:, :, 2 * p:] = weights.view(1, groups, p, 1, 1)
    ow = ow.view(n, groups * 3 * p, h, w)
    expected = _dilated_depthwise_sum(x, weights, dilations, k, groups)
    kw = dict(dilations=dilations, kernel_size=k, groups=groups)
    torch.testing.assert_close(_kernel(x, ow, **kw), expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(
        dilated_deform_fusion_reference(x, ow, **kw), expected, rtol=1e-10, atol=1e-10)


def test_integer_offset_shifts_the_sampled_pixel():
    # one point (k=1), offset (dx, dy) = (2, -1): out[h, w] = x[h - 1, w + 2], zero outside
    x = torch.arange(20, dtype=F64).view(1, 1, 4, 5)
    ow = torch.tensor([2.0, -1.0, 1.0], dtype=F64).view(1, 3, 1, 1).expand(1, 3, 4, 5)
    expected = torch.zeros_like(x)
    expected[0, 0, 1:, :3] = x[0, 0, :3, 2:]
    torch.testing.assert_close(_kernel(x, ow.contiguous(), dilations=(1, ), kernel_size=1),
                               expected)


def test_layouts_give_the_same_result():
    x, ow = _inputs(2, 8, 6, 7, (1, 2), 3, 2, dtype=torch.float32)
    kw = dict(dilations=(1, 2), kernel_size=3, groups=2, softmax=True)
    base = _kernel(x, ow, **kw)
    cl = _kernel(
        x.contiguous(memory_format=torch.channels_last),
        ow.contiguous(memory_format=torch.channels_last), **kw)
    strided = _kernel(x.transpose(2, 3).contiguous().transpose(2, 3), ow, **kw)
    assert base.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(cl, base, rtol=0, atol=0)
    torch.testing.assert_close(strided, base, rtol=0, atol=0)


def test_meta_kernel_shapes():
    assert _ext.has_kernel('meta')
    p = num_points((1, 2, 3), 3)
    x = torch.empty(2, 8, 13, 9, device='meta')
    ow = torch.empty(2, 4 * 3 * p, 13, 9, device='meta')
    out = torch.ops.detnas.dilated_deform_fusion(x, ow, [1, 2, 3], 3, 4, True)
    assert out.device.type == 'meta' and out.shape == (2, 8, 13, 9)
    assert out.stride() == (13 * 9 * 8, 1, 9 * 8, 8)  # channels_last, as the real kernels
    gx, gow = torch.ops.detnas.dilated_deform_fusion_backward(out, x, ow, [1, 2, 3], 3, 4, True,
                                                              False)
    assert gx.shape == x.shape and gow.shape == ow.shape
    # the public API with autograd on meta tensors
    xr = x.clone().requires_grad_()
    y = dilated_deform_fusion(xr, ow, (1, 2, 3), 3, 4)
    assert y.shape == x.shape
    with pytest.raises(RuntimeError, match='offset_weight must have shape'):
        torch.ops.detnas.dilated_deform_fusion(x, ow[:, 1:], [1, 2, 3], 3, 4, True)


def _ok():
    return _inputs(1, 4, 5, 5, (1, 2), 3, 2, dtype=torch.float32)


@pytest.mark.parametrize('mutate,err,match', [
    (lambda x, ow, kw: (x[0], ow, kw), ValueError, 'x must be 4-D'),
    (lambda x, ow, kw: (x.long(), ow, kw), TypeError, 'floating-point'),
    (lambda x, ow, kw: (x, ow.double(), kw), TypeError, 'must match x dtype'),
    (lambda x, ow, kw: (x, ow.to('meta'), kw), ValueError, 'same device'),
    (lambda x, ow, kw: (x, ow[:, :-1], kw), ValueError, r'groups\*3\*P'),
    (lambda x, ow, kw: (x, ow, {**kw, 'kernel_size': 2}), ValueError, 'kernel_size'),
    (lambda x, ow, kw: (x, ow, {**kw, 'dilations': ()}), ValueError, 'dilations'),
    (lambda x, ow, kw: (x, ow, {**kw, 'dilations': (1, 0)}), ValueError, 'dilations'),
    (lambda x, ow, kw: (x, ow, {**kw, 'groups': 3}), ValueError, 'groups'),
    (lambda x, ow, kw: (x.numpy(), ow, kw), TypeError, 'x must be a torch.Tensor'),
])
def test_bad_inputs_raise_clear_errors(mutate, err, match):
    x, ow = _ok()
    x, ow, kw = mutate(x, ow, dict(dilations=(1, 2), kernel_size=3, groups=2))
    with pytest.raises(err, match=match):
        dilated_deform_fusion(x, ow, **kw)


def test_cpp_op_rejects_bad_input_directly():
    x, ow = _ok()
    with pytest.raises(RuntimeError, match='groups .* must be >= 1 and divide'):
        torch.ops.detnas.dilated_deform_fusion(x, ow, [1, 2], 3, 3, False)
    with pytest.raises(RuntimeError, match='CPU kernel supports float32 and float64'):
        torch.ops.detnas.dilated_deform_fusion(x.half(), ow.half(), [1, 2], 3, 2, False)


def test_low_precision_cpu_uses_reference():
    x, ow = _ok()
    out = dilated_deform_fusion(x.bfloat16(), ow.bfloat16(), (1, 2), 3, 2)
    ref = dilated_deform_fusion_reference(x, ow, (1, 2), 3, 2)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)


def test_fallback_warns_once(monkeypatch):
    monkeypatch.setattr(_ext, 'EXT_ERROR', ImportError('simulated missing build'))
    monkeypatch.setattr(_ext, '_warned', set())
    x, ow = _ok()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter('always')
        a = dilated_deform_fusion(x, ow, (1, 2), 3, 2)
        b = dilated_deform_fusion(x, ow, (1, 2), 3, 2)
    msgs = [str(r.message) for r in rec if 'PyTorch reference' in str(r.message)]
    assert len(msgs) == 1 and 'simulated missing build' in msgs[0]
    assert a.is_contiguous()  # the reference path (the kernel returns channels_last)
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize('softmax', [False, True])
def test_module_starts_with_zero_offsets_and_uniform_weights(softmax):
    torch.manual_seed(0)
    m = DilatedDeformFusion(6, dilations=(1, 3), kernel_size=3, groups=3, softmax=softmax).double()
    m.reset_offset_weight()  # 1/P again, now exact in float64
    x = torch.randn(2, 6, 8, 7, dtype=F64)
    p = m.num_points
    expected = _dilated_depthwise_sum(x, torch.full((3, p), 1.0 / p, dtype=F64), (1, 3), 3, 3)
    torch.testing.assert_close(m(x), expected, rtol=1e-10, atol=1e-10)
    # the predictor learns: its zero-initialised layer gets a non-zero gradient
    m(x).square().sum().backward()
    assert m.offset_pw.weight.grad.abs().sum() > 0


def test_module_rejects_bad_config():
    with pytest.raises(ValueError, match='groups'):
        DilatedDeformFusion(6, groups=4)
    with pytest.raises(ValueError, match='kernel_size'):
        DilatedDeformFusion(6, kernel_size=4)


FLOAT_CASES = [
    # n, c, h, w, dilations, k, groups, softmax: channels per group 1 .. 40 cover the
    # vectorised chunks (8, 16, 24, 32 channels), their remainders and the channel padding
    (2, 16, 9, 13, (1, 2, 3), 3, 1, True),
    (1, 48, 7, 11, (1, 3), 3, 2, False),
    (1, 40, 6, 17, (2, ), 3, 1, True),
    (2, 26, 5, 9, (1, 2), 3, 2, True),
    (1, 3, 4, 5, (1, ), 3, 3, False),
    (1, 64, 8, 8, (1, 2, 3), 3, 2, True),
]


def _float_check(case, **tol):
    n, c, h, w, dilations, k, groups, softmax = case
    x, ow = _inputs(n, c, h, w, dilations, k, groups, seed=c, dtype=torch.float64)
    go = torch.randn(n, c, h, w, dtype=F64, generator=torch.Generator().manual_seed(c + 1))
    kw = dict(dilations=dilations, kernel_size=k, groups=groups, softmax=softmax)
    ref = _grads(dilated_deform_fusion_reference, x, ow, go, **kw)  # fp64 oracle
    ker = _grads(_kernel, x.float(), ow.float(), go.float(), **kw)
    for name, a, b in zip(('out', 'grad_x', 'grad_offset_weight'), ker, ref):
        torch.testing.assert_close(a.double(), b, msg=name, **tol)
    return ker


@pytest.mark.parametrize('case', FLOAT_CASES)
def test_cpu_kernel_float32_all_channel_widths_match_fp64_reference(case):
    _float_check(case, rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize('case', FLOAT_CASES[:3])
def test_portable_float32_kernels_match_the_vectorised_ones(case, monkeypatch):
    fast = _float_check(case, rtol=1e-4, atol=2e-4)
    monkeypatch.setenv('DETNAS_DDF_CPU_ISA', 'generic')  # read by the C++ op on every call
    portable = _float_check(case, rtol=1e-4, atol=2e-4)
    for a, b in zip(fast, portable):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_cpu_backward_is_bitwise_independent_of_thread_count(dtype):
    # one (image, group) pair: with 2 threads the backward splits the channels into slices
    # and computes the offset/weight gradients in a separate pass; with 1 thread it is fused
    x, ow = _inputs(1, 32, 10, 12, (1, 2, 3), 3, 1, dtype=dtype)
    go = torch.randn(1, 32, 10, 12, dtype=dtype)
    kw = dict(dilations=(1, 2, 3), kernel_size=3, groups=1, softmax=True)
    threads = torch.get_num_threads()
    try:
        results = []
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            results.append(_grads(_kernel, x, ow, go, **kw))
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a, b)


def test_grad_layouts_follow_the_inputs_and_do_not_change_values():
    x, ow = _inputs(2, 16, 6, 9, (1, 2), 3, 2, dtype=torch.float32)
    go = torch.randn(2, 16, 6, 9)
    kw = dict(dilations=(1, 2), kernel_size=3, groups=2, softmax=True)
    cl = torch.channels_last
    base = _grads(_kernel, x, ow, go, **kw)
    assert base[2].is_contiguous()  # NCHW offset_weight -> NCHW gradient (no conversion)
    assert base[1].is_contiguous(memory_format=cl)  # grad x: channels_last, like the output
    other = _grads(_kernel, x.contiguous(memory_format=cl), ow.contiguous(memory_format=cl),
                   go.contiguous(memory_format=cl), **kw)
    assert other[2].is_contiguous(memory_format=cl)
    for a, b in zip(base, other):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    p = num_points((1, 2), 3)
    meta = torch.ops.detnas.dilated_deform_fusion_backward(
        go.to('meta'), x.to('meta'), ow.to('meta'), [1, 2], 3, 2, True, False)
    assert meta[1].shape == (2, 2 * 3 * p, 6, 9) and meta[1].is_contiguous()


def test_flop_counter_counts_the_op_as_p_taps_per_output_element():
    from detnas.utils.complexity import model_complexity
    c, h, w, dilations, k, groups = 3, 12, 10, (1, 2), 3, 3  # model_complexity feeds RGB
    p = num_points(dilations, k)
    module = DilatedDeformFusion(c, dilations, k, groups, offset_kernel_size=3)
    # the predictor: a depthwise 3x3 (9 MACs per element) then a 1x1 to groups*3*P channels
    predictor = h * w * c * 9 + h * w * c * groups * 3 * p
    counted = model_complexity(module, (h, w))['macs']
    assert counted == predictor + h * w * c * p
