// Torch-free interface of the CUDA kernels of the dilated-deformable fusion op.
// Everything is raw pointers to NHWC memory plus a cudaStream_t, so ddf_kernels.cu compiles
// with nvcc alone (CI compile-checks it for sm_80 / sm_90 without a GPU or a CUDA torch).
// Layouts are those of ../ddf_common.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace detnas {
namespace ddf {
namespace cuda {

constexpr int kMaxDilations = 8;
constexpr int kMaxPoints = 256;

enum class DType : int { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2, kBFloat16 = 3 };

struct Shape {
  int64_t N, H, W, C, G, K, R;
  int dil[kMaxDilations];
  bool softmax;
};

// out <- op(x, offset_weight). All pointers NHWC, dtype `dtype`.
cudaError_t forward(const Shape& s, DType dtype, const void* x, const void* offset_weight,
                    void* out, cudaStream_t stream);

// Bytes of scratch memory `backward` needs (a per-point buffer when s.softmax, else 0).
size_t backward_workspace_bytes(const Shape& s, DType dtype);

// Offset/weight gradient (written into grad_offset_weight, dtype `dtype`) and, unless
// grad_x_acc is null, the input gradient accumulated with atomics into grad_x_acc, a
// zero-initialised NHWC buffer of the accumulation type (float64 for float64, else float32).
cudaError_t backward(const Shape& s, DType dtype, const void* grad_out, const void* x,
                     const void* offset_weight, void* grad_x_acc, void* grad_offset_weight,
                     void* workspace, cudaStream_t stream);

// Bytes of workspace needed by backward_input_deterministic; 0 when the shape is too large
// for it (more than 2^31 - 1 sampling corners or 2^32 - 1 target pixels).
size_t deterministic_workspace_bytes(const Shape& s, DType dtype);

// Input gradient without atomics: every (location, point, corner) contribution is keyed by
// its target pixel, radix-sorted (stable) and summed per pixel in a fixed order, so results
// are bitwise reproducible. grad_x (dtype `dtype`) is fully overwritten.
cudaError_t backward_input_deterministic(const Shape& s, DType dtype, const void* grad_out,
                                         const void* offset_weight, void* grad_x,
                                         void* workspace, size_t workspace_bytes,
                                         cudaStream_t stream);

}  // namespace cuda
}  // namespace ddf
}  // namespace detnas
