"""The CUDA kernels of the fusion op against the PyTorch reference (skipped without a GPU and
a CUDA build; bench/gpu_check.py runs them on the lent GPU machine)."""
import pytest
import torch

from detnas.ops import _ext, dilated_deform_fusion, dilated_deform_fusion_reference, num_points

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() and _ext.has_kernel('cuda')),
    reason='needs a CUDA device and detnas built with its CUDA kernels')

CASES = [
    # n, c, h, w, dilations, k, groups, softmax
    (2, 16, 9, 13, (1, 2, 3), 3, 4, True),
    (1, 64, 17, 6, (1, 2), 3, 2, False),
    (3, 6, 5, 5, (2, ), 5, 3, True),
    (1, 3, 1, 9, (1, 4), 3, 1, False),
]
# low precision against the fp64 reference, relative to the output's largest magnitude
LOW_PRECISION_TOL = {torch.float16: 5e-3, torch.bfloat16: 3e-2}


def _inputs(case, dtype, seed=0):
    n, c, h, w, dilations, k, groups, softmax = case
    gen = torch.Generator().manual_seed(seed)
    p = num_points(dilations, k)
    x = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    ow = torch.randn(n, groups, 3 * p, h, w, generator=gen, dtype=torch.float64)
    ow[:, :, :2 * p] *= 1.5  # offsets of a few pixels: points cross the border
    go = torch.randn(n, c, h, w, generator=gen, dtype=torch.float64)
    kw = dict(dilations=dilations, kernel_size=k, groups=groups, softmax=softmax)
    return [t.to('cuda', dtype) for t in (x, ow.view(n, -1, h, w), go)], kw


def _run(fn, x, ow, go, **kw):
    x, ow = x.clone().requires_grad_(), ow.clone().requires_grad_()
    out = fn(x, ow, **kw)
    gx, gow = torch.autograd.grad(out, (x, ow), go)
    return [t.detach() for t in (out, gx, gow)]


def _scaled_error(a, b):
    return ((a.double() - b.double()).abs().max() / b.double().abs().max()).item()


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_cuda_kernel_matches_the_reference(case, dtype):
    (x, ow, go), kw = _inputs(case, torch.float64)
    ref = _run(dilated_deform_fusion_reference, x, ow, go, **kw)
    got = _run(dilated_deform_fusion, x.to(dtype), ow.to(dtype), go.to(dtype), **kw)
    for name, a, b in zip(('out', 'grad_x', 'grad_offset_weight'), got, ref):
        assert _scaled_error(a, b) <= (1e-4 if dtype == torch.float32 else 1e-10), name


@pytest.mark.parametrize('dtype', list(LOW_PRECISION_TOL))
def test_half_precision_kernels_within_the_stated_tolerance(dtype):
    (x, ow, go), kw = _inputs(CASES[0], torch.float64)
    ref = _run(dilated_deform_fusion_reference, x, ow, go, **kw)
    got = _run(dilated_deform_fusion, x.to(dtype), ow.to(dtype), go.to(dtype), **kw)
    assert got[0].dtype == dtype
    for name, a, b in zip(('out', 'grad_x', 'grad_offset_weight'), got, ref):
        assert _scaled_error(a, b) <= LOW_PRECISION_TOL[dtype], name


def test_fp64_gradcheck():
    (x, ow, _), kw = _inputs((1, 4, 5, 6, (1, 2), 3, 2, True), torch.float64)
    assert torch.autograd.gradcheck(
        lambda a, b: dilated_deform_fusion(a, b, **kw),
        (x.requires_grad_(), ow.requires_grad_()), eps=1e-6, atol=1e-5)


def test_deterministic_backward_is_bitwise_repeatable():
    (x, ow, go), kw = _inputs((2, 64, 24, 24, (1, 2, 3), 3, 4, True), torch.float32)
    runs = [_run(dilated_deform_fusion, x, ow, go, deterministic=True, **kw)
            for _ in range(3)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert torch.equal(a, b)


def test_meta_shapes_follow_the_cuda_ones():
    (x, ow, _), kw = _inputs(CASES[0], torch.float32)
    out = dilated_deform_fusion(x.to('meta'), ow.to('meta'), **kw)
    assert out.device.type == 'meta' and out.shape == x.shape
