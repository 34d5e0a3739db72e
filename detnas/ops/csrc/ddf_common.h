// Shared argument checks and layout helpers for the dilated-deformable fusion op.
//
// Layout contract (all kernels):
//   x              (N, C, H, W), any strides. The CUDA launcher reads it as NHWC memory
//                  (x.permute(0,2,3,1).contiguous(), free for channels_last inputs); the CPU
//                  kernel packs it into its own zero-padded, group-major buffer.
//   offset_weight  (N, G*3*P, H, W). For group g the 3*P channels are
//                  [dx_0, dy_0, dx_1, dy_1, ..., dx_{P-1}, dy_{P-1}, w_0, ..., w_{P-1}].
//                  CUDA reads it as NHWC memory; the CPU kernel through its strides (no copy).
//   point p        p = (r * K + i) * K + j for dilation r, kernel row i, kernel column j; it
//                  samples y = h + (i - K/2) * dil[r] + dy_p, x = w + (j - K/2) * dil[r] + dx_p.
//   out            (N, C, H, W) with NHWC memory (a channels_last tensor); so is grad x.
//   grad offset_weight  the memory format of offset_weight (channels_last when offset_weight
//                  is channels_last, else contiguous NCHW), so that the layer that predicted
//                  it gets its gradient without a layout conversion.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace detnas {
namespace ddf {

constexpr int64_t kMaxDilations = 8;
constexpr int64_t kMaxPoints = 256;

struct Geometry {
  int64_t N, C, H, W, G, Cg, K, R, P;
  std::vector<int64_t> dil;
};

inline Geometry check_inputs(const at::Tensor& x, const at::Tensor& offset_weight,
                             at::IntArrayRef dilations, int64_t kernel_size, int64_t groups) {
  TORCH_CHECK(x.dim() == 4, "dilated_deform_fusion: x must be 4-D (N, C, H, W), got shape ",
              x.sizes());
  TORCH_CHECK(offset_weight.dim() == 4,
              "dilated_deform_fusion: offset_weight must be 4-D (N, G*3*P, H, W), got shape ",
              offset_weight.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()),
              "dilated_deform_fusion: x must be a floating-point tensor, got ", x.scalar_type());
  TORCH_CHECK(offset_weight.scalar_type() == x.scalar_type(),
              "dilated_deform_fusion: offset_weight dtype (", offset_weight.scalar_type(),
              ") must match x dtype (", x.scalar_type(), ")");
  TORCH_CHECK(offset_weight.device() == x.device(),
              "dilated_deform_fusion: offset_weight is on ", offset_weight.device(),
              " but x is on ", x.device(), "; move both to the same device");
  TORCH_CHECK(kernel_size >= 1 && kernel_size % 2 == 1,
              "dilated_deform_fusion: kernel_size must be a positive odd integer, got ",
              kernel_size);
  TORCH_CHECK(!dilations.empty() && static_cast<int64_t>(dilations.size()) <= kMaxDilations,
              "dilated_deform_fusion: dilations must hold 1 to ", kMaxDilations,
              " rates, got ", dilations.size());
  for (auto d : dilations) {
    TORCH_CHECK(d >= 1, "dilated_deform_fusion: every dilation must be >= 1, got ", dilations);
  }
  Geometry g;
  g.N = x.size(0);
  g.C = x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  TORCH_CHECK(groups >= 1 && g.C % groups == 0, "dilated_deform_fusion: groups (", groups,
              ") must be >= 1 and divide the channel count C=", g.C);
  g.G = groups;
  g.Cg = g.C / groups;
  g.K = kernel_size;
  g.R = static_cast<int64_t>(dilations.size());
  g.P = g.R * g.K * g.K;
  TORCH_CHECK(g.P <= kMaxPoints, "dilated_deform_fusion: len(dilations)*kernel_size^2 = ", g.P,
              " points exceeds the supported maximum ", kMaxPoints);
  g.dil = dilations.vec();
  const std::vector<int64_t> expected{g.N, g.G * 3 * g.P, g.H, g.W};
  TORCH_CHECK(offset_weight.sizes() == at::IntArrayRef(expected),
              "dilated_deform_fusion: offset_weight must have shape (N, groups*3*P, H, W) = ",
              at::IntArrayRef(expected), " with P = len(dilations)*kernel_size^2 = ", g.P,
              ", got ", offset_weight.sizes());
  return g;
}

// NHWC-contiguous copy (or the same storage when the tensor is already channels_last).
inline at::Tensor to_nhwc(const at::Tensor& t) { return t.permute({0, 2, 3, 1}).contiguous(); }

// An (N, C, H, W) tensor whose memory is NHWC-contiguous.
inline at::Tensor empty_nhwc(int64_t n, int64_t c, int64_t h, int64_t w,
                             const at::TensorOptions& opts) {
  return at::empty({n, h, w, c}, opts).permute({0, 3, 1, 2});
}

inline at::Tensor zeros_nhwc(int64_t n, int64_t c, int64_t h, int64_t w,
                             const at::TensorOptions& opts) {
  return at::zeros({n, h, w, c}, opts).permute({0, 3, 1, 2});
}

// Whether the gradient of `t` is allocated channels_last (t is channels_last, not NCHW).
inline bool prefers_channels_last(const at::Tensor& t) {
  return t.is_contiguous(at::MemoryFormat::ChannelsLast) && !t.is_contiguous();
}

// An empty tensor shaped like `t` in the memory format its gradient uses.
inline at::Tensor empty_like_layout(const at::Tensor& t) {
  return at::empty(t.sizes(), t.options().memory_format(prefers_channels_last(t)
                                                           ? at::MemoryFormat::ChannelsLast
                                                           : at::MemoryFormat::Contiguous));
}

}  // namespace ddf
}  // namespace detnas
