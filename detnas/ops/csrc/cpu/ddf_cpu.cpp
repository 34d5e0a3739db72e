// CPU kernels (at::parallel_for) of the dilated-deformable fusion op, forward and backward.
//
// Buffers:
//   x_pad   (N, G, H+2, W+2, Cgp): every group's channels as a contiguous channels-innermost
//           image with a one-pixel zero border, channels padded with zeros to Cgp (a
//           multiple of the vector width: 8 floats for the AVX2 kernels, 1 otherwise). Every
//           sampling point that touches the image has its four corners inside x_pad, so the
//           kernels need no bounds checks; points entirely outside are moved onto the zero
//           pixel (0, 0). One (image, group) task works on one contiguous block.
//   gx_pad  the same shape for the input gradient; border and padding are dropped at the end.
//   offset_weight is read through its strides (NCHW or channels_last, no copy); out and
//   grad_x are written channels_last (as the CUDA and Meta kernels), grad_offset_weight in
//   offset_weight's memory format.
// Forward: one task per output row (n, h); every tile of 8 locations x one group sets up
//   its P sampling points once (vectorised across the 8 locations) and then accumulates the
//   group's contiguous channels (vectorised across channels).
// Backward: one task per (image, group) computes both gradients in one pass: per location
//   and point, four dot products over the group's channels give the offset and weight
//   gradients, and the same loop scatters the input gradient into the task's own slice of
//   gx_pad. When there are fewer (image, group) pairs than threads, the offset/weight
//   gradients are computed per row and the input gradient per (image, group, channel slice)
//   instead. Either way every element is written by one task in a fixed order, so results
//   are bitwise reproducible and independent of the thread count (`deterministic` is
//   always on).
// Float32 runs AVX2/FMA kernels when the CPU has them (runtime check; set the environment
// variable DETNAS_DDF_CPU_ISA=generic to force the portable kernels).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <tuple>
#include <vector>

#include "../ddf_common.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DDF_HAVE_AVX2 1
#include <immintrin.h>
#else
#define DDF_HAVE_AVX2 0
#endif

namespace detnas {
namespace ddf {
namespace {

constexpr int TW = 8;  // locations per tile

template <typename T>
struct Problem {
  int64_t N, H, W, C, G, Cg, Cgp, P;
  bool softmax;
  std::vector<int64_t> dy, dx;  // base displacement of every point
  // x_pad / gx_pad (N, G, H+2, W+2, Cgp): strides of a pixel, a row and a group image
  int64_t pix_stride, row_stride, group_stride;
  const T* xpad = nullptr;
  T* gxpad = nullptr;
  const T* ow = nullptr;
  int64_t ow_sn = 0, ow_sc = 0, ow_sh = 0, ow_sw = 0;
  const T* go = nullptr;  // grad_out: location l, group g at go + l * go_pix + g * Cgp
  int64_t go_pix = 0;
  T* out = nullptr;  // (N, H, W, C)
  T* gx = nullptr;   // (N, H, W, C)
  T* gow = nullptr;  // grad_offset_weight, written through its strides
  int64_t gow_sn = 0, gow_sc = 0, gow_sh = 0, gow_sw = 0;
};

// Per-thread working memory of one tile.
template <typename T>
struct Scratch {
  explicit Scratch(const Problem<T>& pr)
      : buf(3 * pr.P * TW),
        a(pr.P * TW),
        ly(pr.P * TW),
        lx(pr.P * TW),
        cw(4 * pr.P * TW),
        off(pr.P * TW),
        dots(4 * pr.P * TW),
        gs(pr.P * TW),
        stage(3 * pr.P * TW),
        acc(pr.Cg) {}
  std::vector<T> buf;        // [3P][TW] offsets (dx, dy per point) then weight logits
  std::vector<T> a;          // [P][TW] point weights (after the softmax)
  std::vector<T> ly, lx;     // [P][TW] bilinear fractions
  std::vector<T> cw;         // [P][4][TW] corner weights times the point weight
  std::vector<int32_t> off;  // [P][TW] offset of the top-left corner in the group image
  std::vector<T> dots;       // [P][TW][4] corner dot products (location order: Kern::dot_slot)
  std::vector<T> gs;         // [P][TW] weight gradients before the softmax
  std::vector<T> stage;      // [3P][TW] offset/weight gradients of the tile
  std::vector<T> acc;        // [Cg] accumulator of the portable forward
};

// Zero gx_pad[n, g, :, :, c0:c1].
template <typename T>
void zero_padded_slice(const Problem<T>& pr, int64_t n, int64_t g, int64_t c0, int64_t c1) {
  T* base = pr.gxpad + (n * pr.G + g) * pr.group_stride;
  if (c0 == 0 && c1 == pr.Cgp) {
    std::memset(base, 0, sizeof(T) * pr.group_stride);
    return;
  }
  for (int64_t k = 0; k < pr.group_stride; k += pr.pix_stride)
    for (int64_t c = c0; c < c1; ++c) base[k + c] = T(0);
}

// grad_x[n, h, w, g*Cg + c] = gx_pad[n, g, h+1, w+1, c] for c in [c0, min(c1, Cg)).
template <typename T>
void unpack_grad_slice(const Problem<T>& pr, int64_t n, int64_t g, int64_t c0, int64_t c1) {
  c1 = std::min(c1, pr.Cg);
  for (int64_t h = 0; h < pr.H; ++h) {
    const T* src = pr.gxpad + (n * pr.G + g) * pr.group_stride + (h + 1) * pr.row_stride +
                   pr.pix_stride;
    T* dst = pr.gx + ((n * pr.H + h) * pr.W) * pr.C + g * pr.Cg;
    for (int64_t w = 0; w < pr.W; ++w, src += pr.pix_stride, dst += pr.C) {
      int64_t c = c0;
      for (; c + 8 <= c1; c += 8) std::memcpy(dst + c, src + c, sizeof(T) * 8);
      for (; c < c1; ++c) dst[c] = src[c];
    }
  }
}

}  // namespace

#if DDF_HAVE_AVX2
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define DDF_AVX2 1
namespace avx2 {
namespace {
#include "ddf_cpu_kernels.inc"
}  // namespace
void forward(const Problem<float>& pr, int64_t b, int64_t e) { forward_task<float>(pr, b, e); }
void backward_fused(const Problem<float>& pr, int64_t n, int64_t g) {
  backward_fused_task<float>(pr, n, g);
}
void backward_gow(const Problem<float>& pr, int64_t b, int64_t e) {
  backward_gow_rows<float>(pr, b, e);
}
void backward_gx(const Problem<float>& pr, int64_t n, int64_t g, int64_t c0, int64_t c1) {
  backward_gx_task<float>(pr, n, g, c0, c1);
}
}  // namespace avx2
#undef DDF_AVX2
#pragma GCC pop_options
#endif

namespace generic {
namespace {
#include "ddf_cpu_kernels.inc"
}  // namespace
}  // namespace generic

namespace {

template <typename T>
struct Kernels {
  int64_t vec;  // channel padding multiple
  void (*forward)(const Problem<T>&, int64_t, int64_t);
  void (*backward_fused)(const Problem<T>&, int64_t, int64_t);
  void (*backward_gow)(const Problem<T>&, int64_t, int64_t);
  void (*backward_gx)(const Problem<T>&, int64_t, int64_t, int64_t, int64_t);
};

template <typename T>
Kernels<T> select_kernels() {
  return {1, &generic::forward_task<T>, &generic::backward_fused_task<T>,
          &generic::backward_gow_rows<T>, &generic::backward_gx_task<T>};
}

bool use_avx2() {
#if DDF_HAVE_AVX2
  static const bool cpu_has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const char* isa = std::getenv("DETNAS_DDF_CPU_ISA");
  return cpu_has && !(isa && std::strcmp(isa, "generic") == 0);
#else
  return false;
#endif
}

template <>
Kernels<float> select_kernels<float>() {
#if DDF_HAVE_AVX2
  if (use_avx2())
    return {8, &avx2::forward, &avx2::backward_fused, &avx2::backward_gow, &avx2::backward_gx};
#endif
  return {1, &generic::forward_task<float>, &generic::backward_fused_task<float>,
          &generic::backward_gow_rows<float>, &generic::backward_gx_task<float>};
}

// Copies the (Cg, W) block of image n, group g, row h of src (N, C, H, W; any strides) into
// dst with pixel stride `pix` (channel c of pixel w at dst[w * pix + c]).
template <typename T>
void copy_group_row(const T* src, int64_t sc, int64_t sw, int64_t Cg, int64_t W, T* dst,
                    int64_t pix) {
  if (sc <= sw) {  // channels_last-like source: channels innermost
    for (int64_t w = 0; w < W; ++w)
      for (int64_t c = 0; c < Cg; ++c) dst[w * pix + c] = src[w * sw + c * sc];
  } else {  // NCHW-like source: a row of W values per channel
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t w = 0; w < W; ++w) dst[w * pix + c] = src[c * sc + w * sw];
  }
}

// x_pad (N, G, H+2, W+2, Cgp) <- x (N, G*Cg, H, W) with a zero border and zero channel
// padding. Parallel over the rows of the group images.
template <typename T>
void pack_padded_input(const at::Tensor& x, const Problem<T>& pr, T* dst) {
  const int64_t Hp = pr.H + 2, row = pr.row_stride;
  const int64_t sn = x.stride(0), sc = x.stride(1), sh = x.stride(2), sw = x.stride(3);
  const T* src = x.const_data_ptr<T>();
  at::parallel_for(0, pr.N * pr.G * Hp, std::max<int64_t>(1, 16384 / row),
                   [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t hp = r % Hp, ng = r / Hp, n = ng / pr.G, g = ng % pr.G;
      T* d = dst + r * row;
      if (hp == 0 || hp == Hp - 1 || pr.Cgp != pr.Cg) {
        std::memset(d, 0, sizeof(T) * row);
      } else {
        std::memset(d, 0, sizeof(T) * pr.pix_stride);
        std::memset(d + row - pr.pix_stride, 0, sizeof(T) * pr.pix_stride);
      }
      if (hp == 0 || hp == Hp - 1) continue;
      copy_group_row(src + n * sn + g * pr.Cg * sc + (hp - 1) * sh, sc, sw, pr.Cg, pr.W,
                     d + pr.pix_stride, pr.pix_stride);
    }
  });
}

// go_packed (N, H, W, G, Cgp) <- grad_out (N, G*Cg, H, W) with zero channel padding.
template <typename T>
void pack_grad_out(const at::Tensor& go, const Problem<T>& pr, T* dst) {
  const int64_t sn = go.stride(0), sc = go.stride(1), sh = go.stride(2), sw = go.stride(3);
  const int64_t pix = pr.G * pr.Cgp;
  const T* src = go.const_data_ptr<T>();
  at::parallel_for(0, pr.N * pr.H, std::max<int64_t>(1, 16384 / (pr.W * pix)),
                   [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / pr.H, h = r % pr.H;
      T* d = dst + r * pr.W * pix;
      if (pr.Cgp != pr.Cg) std::memset(d, 0, sizeof(T) * pr.W * pix);
      for (int64_t g = 0; g < pr.G; ++g)
        copy_group_row(src + n * sn + g * pr.Cg * sc + h * sh, sc, sw, pr.Cg, pr.W,
                       d + g * pr.Cgp, pix);
    }
  });
}

template <typename T>
Problem<T> make_problem(const Geometry& g, bool softmax, int64_t vec) {
  Problem<T> pr;
  pr.N = g.N;
  pr.H = g.H;
  pr.W = g.W;
  pr.C = g.C;
  pr.G = g.G;
  pr.Cg = g.Cg;
  pr.Cgp = (g.Cg + vec - 1) / vec * vec;
  pr.P = g.P;
  pr.softmax = softmax;
  pr.dy.resize(g.P);
  pr.dx.resize(g.P);
  const int64_t half = g.K / 2;
  for (int64_t r = 0; r < g.R; ++r)
    for (int64_t i = 0; i < g.K; ++i)
      for (int64_t j = 0; j < g.K; ++j) {
        const int64_t p = (r * g.K + i) * g.K + j;
        pr.dy[p] = (i - half) * g.dil[r];
        pr.dx[p] = (j - half) * g.dil[r];
      }
  pr.pix_stride = pr.Cgp;
  pr.row_stride = (g.W + 2) * pr.pix_stride;
  pr.group_stride = (g.H + 2) * pr.row_stride;
  TORCH_CHECK(pr.group_stride < std::numeric_limits<int32_t>::max(),
              "dilated_deform_fusion: one padded group image of (H+2)*(W+2)*C/groups = ",
              pr.group_stride, " elements is too large for the CPU kernel (limit 2^31); use "
              "more groups, smaller images or the reference (use_kernel=False)");
  return pr;
}

template <typename T>
void set_offset_weight(Problem<T>& pr, const at::Tensor& ow) {
  pr.ow = ow.const_data_ptr<T>();
  pr.ow_sn = ow.stride(0);
  pr.ow_sc = ow.stride(1);
  pr.ow_sh = ow.stride(2);
  pr.ow_sw = ow.stride(3);
}

void check_cpu(const at::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "dilated_deform_fusion: the CPU kernel supports float32 and float64, got ",
              x.scalar_type(), " (detnas.ops.dilated_deform_fusion routes other dtypes to the "
              "PyTorch reference)");
}

template <typename T>
void forward_typed(const Geometry& g, const at::Tensor& x, const at::Tensor& ow, bool softmax,
                   at::Tensor& out) {
  const Kernels<T> k = select_kernels<T>();
  Problem<T> pr = make_problem<T>(g, softmax, k.vec);
  at::Tensor xpad = at::empty({g.N, g.G, g.H + 2, g.W + 2, pr.Cgp}, x.options());
  pack_padded_input<T>(x, pr, xpad.data_ptr<T>());
  pr.xpad = xpad.const_data_ptr<T>();
  set_offset_weight(pr, ow);
  pr.out = out.data_ptr<T>();
  at::parallel_for(0, g.N * g.H, 1, [&](int64_t b, int64_t e) { k.forward(pr, b, e); });
}

template <typename T>
void backward_typed(const Geometry& g, const at::Tensor& go, const at::Tensor& x,
                    const at::Tensor& ow, bool softmax, at::Tensor& gx, at::Tensor& gow) {
  const Kernels<T> k = select_kernels<T>();
  Problem<T> pr = make_problem<T>(g, softmax, k.vec);
  const auto opts = x.options();
  at::Tensor xpad = at::empty({g.N, g.G, g.H + 2, g.W + 2, pr.Cgp}, opts);
  pack_padded_input<T>(x, pr, xpad.data_ptr<T>());
  at::Tensor gxpad = at::empty_like(xpad);  // each task zeroes its own slice
  at::Tensor go_packed;
  if (pr.Cgp == g.Cg && go.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    pr.go = go.const_data_ptr<T>();
    pr.go_pix = g.C;
  } else {
    go_packed = at::empty({g.N, g.H, g.W, g.G * pr.Cgp}, opts);
    pack_grad_out<T>(go, pr, go_packed.data_ptr<T>());
    pr.go = go_packed.const_data_ptr<T>();
    pr.go_pix = g.G * pr.Cgp;
  }
  pr.xpad = xpad.const_data_ptr<T>();
  pr.gxpad = gxpad.data_ptr<T>();
  set_offset_weight(pr, ow);
  pr.gow = gow.data_ptr<T>();
  pr.gow_sn = gow.stride(0);
  pr.gow_sc = gow.stride(1);
  pr.gow_sh = gow.stride(2);
  pr.gow_sw = gow.stride(3);
  pr.gx = gx.data_ptr<T>();

  const int64_t threads = at::get_num_threads(), pairs = g.N * g.G;
  const int64_t vectors = pr.Cgp / k.vec;  // channel vectors per group
  if (pairs >= threads || vectors <= 1) {
    at::parallel_for(0, pairs, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) k.backward_fused(pr, t / g.G, t % g.G);
    });
    return;
  }
  // Few (image, group) pairs: split the channels so that every thread gets work.
  const int64_t slices = std::min(vectors, (threads + pairs - 1) / pairs);
  const int64_t slice_len = (vectors + slices - 1) / slices * k.vec;
  at::parallel_for(0, g.N * g.H, 1, [&](int64_t b, int64_t e) { k.backward_gow(pr, b, e); });
  at::parallel_for(0, pairs * slices, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t s = t % slices, pair = t / slices;
      const int64_t c0 = s * slice_len, c1 = std::min(pr.Cgp, c0 + slice_len);
      if (c0 < c1) k.backward_gx(pr, pair / g.G, pair % g.G, c0, c1);
    }
  });
}

at::Tensor forward_cpu(const at::Tensor& x, const at::Tensor& offset_weight,
                       at::IntArrayRef dilations, int64_t kernel_size, int64_t groups,
                       bool softmax) {
  const Geometry g = check_inputs(x, offset_weight, dilations, kernel_size, groups);
  check_cpu(x);
  at::Tensor out = empty_nhwc(g.N, g.C, g.H, g.W, x.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ddf_forward_cpu", [&] {
    forward_typed<scalar_t>(g, x, offset_weight, softmax, out);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> backward_cpu(const at::Tensor& grad_out, const at::Tensor& x,
                                                const at::Tensor& offset_weight,
                                                at::IntArrayRef dilations, int64_t kernel_size,
                                                int64_t groups, bool softmax,
                                                bool /*deterministic: always on CPU*/) {
  const Geometry g = check_inputs(x, offset_weight, dilations, kernel_size, groups);
  check_cpu(x);
  TORCH_CHECK(grad_out.sizes() == x.sizes() && grad_out.scalar_type() == x.scalar_type() &&
                  grad_out.device() == x.device(),
              "dilated_deform_fusion_backward: grad_out must match x in shape, dtype and device");
  at::Tensor gx = empty_nhwc(g.N, g.C, g.H, g.W, x.options());
  at::Tensor gow = empty_like_layout(offset_weight);
  if (x.numel() == 0) return {gx.zero_(), gow.zero_()};
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ddf_backward_cpu", [&] {
    backward_typed<scalar_t>(g, grad_out, x, offset_weight, softmax, gx, gow);
  });
  return {gx, gow};
}

}  // namespace

TORCH_LIBRARY_IMPL(detnas, CPU, m) {
  m.impl("dilated_deform_fusion", &forward_cpu);
  m.impl("dilated_deform_fusion_backward", &backward_cpu);
}

}  // namespace ddf
}  // namespace detnas
