// ATen launcher of the CUDA kernels (ddf_kernels.cu): checks, layout, workspace, stream.
// Built only when torch has CUDA (setup.py); registers the CUDA dispatch key.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <tuple>

#include "../ddf_common.h"
#include "ddf_kernels.h"

namespace detnas {
namespace ddf {
namespace {

cuda::DType dtype_of(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat:
      return cuda::DType::kFloat32;
    case at::kDouble:
      return cuda::DType::kFloat64;
    case at::kHalf:
      return cuda::DType::kFloat16;
    case at::kBFloat16:
      return cuda::DType::kBFloat16;
    default:
      TORCH_CHECK(false, "dilated_deform_fusion: the CUDA kernel supports float32, float64, "
                         "float16 and bfloat16, got ", t.scalar_type());
  }
}

cuda::Shape shape_of(const Geometry& g, bool softmax) {
  cuda::Shape s{};
  s.N = g.N;
  s.H = g.H;
  s.W = g.W;
  s.C = g.C;
  s.G = g.G;
  s.K = g.K;
  s.R = g.R;
  for (int64_t r = 0; r < g.R; ++r) s.dil[r] = static_cast<int>(g.dil[r]);
  s.softmax = softmax;
  return s;
}

void check_launch(cudaError_t err, const char* what) {
  TORCH_CHECK(err == cudaSuccess, "dilated_deform_fusion ", what, " failed: ",
              cudaGetErrorString(err));
}

at::Tensor forward_cuda(const at::Tensor& x, const at::Tensor& offset_weight,
                        at::IntArrayRef dilations, int64_t kernel_size, int64_t groups,
                        bool softmax) {
  const Geometry g = check_inputs(x, offset_weight, dilations, kernel_size, groups);
  const cuda::DType dtype = dtype_of(x);
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = empty_nhwc(g.N, g.C, g.H, g.W, x.options());
  if (out.numel() == 0) return out;
  const at::Tensor xt = to_nhwc(x), owt = to_nhwc(offset_weight);
  check_launch(cuda::forward(shape_of(g, softmax), dtype, xt.data_ptr(), owt.data_ptr(),
                             out.data_ptr(), c10::cuda::getCurrentCUDAStream()),
               "forward");
  return out;
}

std::tuple<at::Tensor, at::Tensor> backward_cuda(const at::Tensor& grad_out, const at::Tensor& x,
                                                 const at::Tensor& offset_weight,
                                                 at::IntArrayRef dilations, int64_t kernel_size,
                                                 int64_t groups, bool softmax,
                                                 bool deterministic) {
  const Geometry g = check_inputs(x, offset_weight, dilations, kernel_size, groups);
  const cuda::DType dtype = dtype_of(x);
  TORCH_CHECK(grad_out.sizes() == x.sizes() && grad_out.scalar_type() == x.scalar_type() &&
                  grad_out.device() == x.device(),
              "dilated_deform_fusion_backward: grad_out must match x in shape, dtype and device");
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();
  at::Tensor gow = empty_nhwc(g.N, g.G * 3 * g.P, g.H, g.W, x.options());  // kernels: NHWC
  if (x.numel() == 0) {
    return {zeros_nhwc(g.N, g.C, g.H, g.W, x.options()),
            empty_like_layout(offset_weight).zero_()};
  }
  const at::Tensor xt = to_nhwc(x), owt = to_nhwc(offset_weight), got = to_nhwc(grad_out);
  const cuda::Shape s = shape_of(g, softmax);

  at::Tensor gx, gx_acc;
  if (!deterministic) {
    const auto acc = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    gx_acc = zeros_nhwc(g.N, g.C, g.H, g.W, x.options().dtype(acc));
  }
  const size_t bw_bytes = cuda::backward_workspace_bytes(s, dtype);
  at::Tensor bw_ws = at::empty({static_cast<int64_t>(bw_bytes)}, x.options().dtype(at::kByte));
  check_launch(cuda::backward(s, dtype, got.data_ptr(), xt.data_ptr(), owt.data_ptr(),
                              deterministic ? nullptr : gx_acc.data_ptr(), gow.data_ptr(),
                              bw_bytes ? bw_ws.data_ptr() : nullptr, stream),
               "backward");
  if (deterministic) {
    const size_t ws_bytes = cuda::deterministic_workspace_bytes(s, dtype);
    TORCH_CHECK(ws_bytes > 0, "dilated_deform_fusion_backward: input too large for the "
                              "deterministic backward (more than 2^31 sampling corners); "
                              "use deterministic=False");
    at::Tensor ws = at::empty({static_cast<int64_t>(ws_bytes)}, x.options().dtype(at::kByte));
    gx = empty_nhwc(g.N, g.C, g.H, g.W, x.options());
    check_launch(cuda::backward_input_deterministic(s, dtype, got.data_ptr(), owt.data_ptr(),
                                                    gx.data_ptr(), ws.data_ptr(), ws_bytes,
                                                    stream),
                 "deterministic input backward");
  } else {
    gx = gx_acc.to(x.scalar_type());  // keeps the NHWC memory; no copy for float32/float64
  }
  // grad offset_weight in offset_weight's layout (ddf_common.h), as the CPU and Meta kernels
  if (!prefers_channels_last(offset_weight)) gow = gow.contiguous();
  return {gx, gow};
}

}  // namespace

TORCH_LIBRARY_IMPL(detnas, CUDA, m) {
  m.impl("dilated_deform_fusion", &forward_cuda);
  m.impl("dilated_deform_fusion_backward", &backward_cuda);
}

}  // namespace ddf
}  // namespace detnas
