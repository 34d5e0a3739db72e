// CPU kernels (at::parallel_for) of the dilated-deformable fusion op, forward and backward.
//
// Forward: one task per output row (n, h); for every (w, group) the P sampling points are
// set up once and applied to the group's Cg contiguous NHWC channels.
// Backward, two passes, both deterministic (no two threads write the same element):
//   A. offset / weight gradients: one task per output row; each location owns its entries.
//   B. input gradient: one task per (n, group, channel slice); the task walks every output
//      location in a fixed order and scatters into its own channels only.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "../ddf_common.h"

namespace detnas {
namespace ddf {
namespace {

// Bilinear set-up of one sampling point: four corners with their weights, or invalid corners
// (index -1) outside the image (zero padding).
template <typename acc_t>
struct Bilinear {
  int64_t idx[4];  // pixel index y * W + x of corners (y0,x0) (y0,x1) (y1,x0) (y1,x1), or -1
  acc_t w[4];
  acc_t ly, lx;
};

template <typename acc_t>
inline bool bilinear_setup(acc_t py, acc_t px, int64_t H, int64_t W, Bilinear<acc_t>& b) {
  if (!(py > acc_t(-1) && py < acc_t(H) && px > acc_t(-1) && px < acc_t(W))) return false;
  // py, px > -1 here, so truncating (p + 1) is floor(p + 1) (cheaper than std::floor)
  const int64_t y0 = static_cast<int64_t>(py + acc_t(1)) - 1;
  const int64_t x0 = static_cast<int64_t>(px + acc_t(1)) - 1;
  const acc_t fy = acc_t(y0), fx = acc_t(x0);
  const int64_t y1 = y0 + 1, x1 = x0 + 1;
  b.ly = py - fy;
  b.lx = px - fx;
  const acc_t hy = acc_t(1) - b.ly, hx = acc_t(1) - b.lx;
  const bool vy0 = y0 >= 0, vy1 = y1 < H, vx0 = x0 >= 0, vx1 = x1 < W;
  b.idx[0] = (vy0 && vx0) ? y0 * W + x0 : -1;
  b.idx[1] = (vy0 && vx1) ? y0 * W + x1 : -1;
  b.idx[2] = (vy1 && vx0) ? y1 * W + x0 : -1;
  b.idx[3] = (vy1 && vx1) ? y1 * W + x1 : -1;
  b.w[0] = hy * hx;
  b.w[1] = hy * b.lx;
  b.w[2] = b.ly * hx;
  b.w[3] = b.ly * b.lx;
  return true;
}

// Point weights of one location and group (softmax over the points when asked).
template <typename scalar_t, typename acc_t>
inline void point_weights(const scalar_t* wp, int64_t P, bool softmax, acc_t* out) {
  if (!softmax) {
    for (int64_t p = 0; p < P; ++p) out[p] = static_cast<acc_t>(wp[p]);
    return;
  }
  acc_t mx = static_cast<acc_t>(wp[0]);
  for (int64_t p = 1; p < P; ++p) mx = std::max(mx, static_cast<acc_t>(wp[p]));
  acc_t sum = 0;
  for (int64_t p = 0; p < P; ++p) {
    out[p] = std::exp(static_cast<acc_t>(wp[p]) - mx);
    sum += out[p];
  }
  for (int64_t p = 0; p < P; ++p) out[p] /= sum;
}

struct BaseGrid {
  std::vector<int64_t> dy, dx;  // integer base displacement of each point
  explicit BaseGrid(const Geometry& g) : dy(g.P), dx(g.P) {
    const int64_t half = g.K / 2;
    for (int64_t r = 0; r < g.R; ++r)
      for (int64_t i = 0; i < g.K; ++i)
        for (int64_t j = 0; j < g.K; ++j) {
          const int64_t p = (r * g.K + i) * g.K + j;
          dy[p] = (i - half) * g.dil[r];
          dx[p] = (j - half) * g.dil[r];
        }
  }
};

template <typename scalar_t>
void forward_impl(const Geometry& g, const scalar_t* x, const scalar_t* ow, scalar_t* out,
                  bool softmax) {
  using acc_t = at::opmath_type<scalar_t>;
  const BaseGrid base(g);
  const int64_t P3 = 3 * g.P;
  at::parallel_for(0, g.N * g.H, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> wts(g.P), acc(g.Cg);
    Bilinear<acc_t> b;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / g.H, h = row % g.H;
      const scalar_t* xn = x + n * g.H * g.W * g.C;
      for (int64_t w = 0; w < g.W; ++w) {
        const int64_t loc = row * g.W + w;
        for (int64_t gi = 0; gi < g.G; ++gi) {
          const scalar_t* owp = ow + (loc * g.G + gi) * P3;
          point_weights(owp + 2 * g.P, g.P, softmax, wts.data());
          std::fill(acc.begin(), acc.end(), acc_t(0));
          for (int64_t p = 0; p < g.P; ++p) {
            const acc_t py = acc_t(h + base.dy[p]) + static_cast<acc_t>(owp[2 * p + 1]);
            const acc_t px = acc_t(w + base.dx[p]) + static_cast<acc_t>(owp[2 * p]);
            if (!bilinear_setup(py, px, g.H, g.W, b)) continue;
            for (int q = 0; q < 4; ++q) {
              if (b.idx[q] < 0) continue;
              const acc_t coef = wts[p] * b.w[q];
              const scalar_t* __restrict__ xp = xn + b.idx[q] * g.C + gi * g.Cg;
              acc_t* __restrict__ ap = acc.data();
#pragma GCC ivdep
              for (int64_t c = 0; c < g.Cg; ++c) ap[c] += coef * static_cast<acc_t>(xp[c]);
            }
          }
          scalar_t* op = out + loc * g.C + gi * g.Cg;
          for (int64_t c = 0; c < g.Cg; ++c) op[c] = static_cast<scalar_t>(acc[c]);
        }
      }
    }
  });
}

template <typename scalar_t>
void backward_offset_weight(const Geometry& g, const scalar_t* go, const scalar_t* x,
                            const scalar_t* ow, scalar_t* gow, bool softmax) {
  using acc_t = at::opmath_type<scalar_t>;
  const BaseGrid base(g);
  const int64_t P3 = 3 * g.P;
  at::parallel_for(0, g.N * g.H, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> wts(g.P), gw(g.P);
    std::vector<scalar_t> zeros(g.Cg, scalar_t(0));
    Bilinear<acc_t> b;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / g.H, h = row % g.H;
      const scalar_t* xn = x + n * g.H * g.W * g.C;
      for (int64_t w = 0; w < g.W; ++w) {
        const int64_t loc = row * g.W + w;
        for (int64_t gi = 0; gi < g.G; ++gi) {
          const scalar_t* owp = ow + (loc * g.G + gi) * P3;
          scalar_t* gp = gow + (loc * g.G + gi) * P3;
          const scalar_t* gop = go + loc * g.C + gi * g.Cg;
          point_weights(owp + 2 * g.P, g.P, softmax, wts.data());
          for (int64_t p = 0; p < g.P; ++p) {
            const acc_t py = acc_t(h + base.dy[p]) + static_cast<acc_t>(owp[2 * p + 1]);
            const acc_t px = acc_t(w + base.dx[p]) + static_cast<acc_t>(owp[2 * p]);
            acc_t s = 0, sx = 0, sy = 0;
            if (bilinear_setup(py, px, g.H, g.W, b)) {
              const scalar_t* v[4];
              for (int q = 0; q < 4; ++q)
                v[q] = b.idx[q] < 0 ? zeros.data() : xn + b.idx[q] * g.C + gi * g.Cg;
              const acc_t hy = acc_t(1) - b.ly, hx = acc_t(1) - b.lx;
#pragma GCC ivdep
              for (int64_t c = 0; c < g.Cg; ++c) {
                const acc_t gc = static_cast<acc_t>(gop[c]);
                const acc_t a = static_cast<acc_t>(v[0][c]), bb = static_cast<acc_t>(v[1][c]);
                const acc_t cc = static_cast<acc_t>(v[2][c]), d = static_cast<acc_t>(v[3][c]);
                s += gc * (b.w[0] * a + b.w[1] * bb + b.w[2] * cc + b.w[3] * d);
                sx += gc * (hy * (bb - a) + b.ly * (d - cc));
                sy += gc * (hx * (cc - a) + b.lx * (d - bb));
              }
            }
            gp[2 * p] = static_cast<scalar_t>(wts[p] * sx);
            gp[2 * p + 1] = static_cast<scalar_t>(wts[p] * sy);
            gw[p] = s;
          }
          acc_t dot = 0;
          if (softmax)
            for (int64_t p = 0; p < g.P; ++p) dot += wts[p] * gw[p];
          for (int64_t p = 0; p < g.P; ++p)
            gp[2 * g.P + p] = static_cast<scalar_t>(softmax ? wts[p] * (gw[p] - dot) : gw[p]);
        }
      }
    }
  });
}

template <typename scalar_t>
void backward_input(const Geometry& g, const scalar_t* go, const scalar_t* ow, scalar_t* gx,
                    bool softmax) {
  using acc_t = at::opmath_type<scalar_t>;
  const BaseGrid base(g);
  const int64_t P3 = 3 * g.P;
  // Channel slices per (n, group) so that small batches still give every thread work.
  const int64_t threads = at::get_num_threads();
  const int64_t want = (4 * threads + g.N * g.G - 1) / std::max<int64_t>(g.N * g.G, 1);
  const int64_t slices = std::max<int64_t>(1, std::min<int64_t>(want, (g.Cg + 7) / 8));
  const int64_t slice_len = (g.Cg + slices - 1) / slices;
  at::parallel_for(0, g.N * g.G * slices, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> wts(g.P);
    Bilinear<acc_t> b;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t s = task % slices, gi = (task / slices) % g.G, n = task / (slices * g.G);
      const int64_t c0 = s * slice_len, c1 = std::min(g.Cg, c0 + slice_len);
      if (c0 >= c1) continue;
      scalar_t* gxn = gx + n * g.H * g.W * g.C + gi * g.Cg;
      for (int64_t h = 0; h < g.H; ++h) {
        for (int64_t w = 0; w < g.W; ++w) {
          const int64_t loc = (n * g.H + h) * g.W + w;
          const scalar_t* owp = ow + (loc * g.G + gi) * P3;
          const scalar_t* gop = go + loc * g.C + gi * g.Cg;
          point_weights(owp + 2 * g.P, g.P, softmax, wts.data());
          for (int64_t p = 0; p < g.P; ++p) {
            const acc_t py = acc_t(h + base.dy[p]) + static_cast<acc_t>(owp[2 * p + 1]);
            const acc_t px = acc_t(w + base.dx[p]) + static_cast<acc_t>(owp[2 * p]);
            if (!bilinear_setup(py, px, g.H, g.W, b)) continue;
            for (int q = 0; q < 4; ++q) {
              if (b.idx[q] < 0) continue;
              const acc_t coef = wts[p] * b.w[q];
              scalar_t* __restrict__ dst = gxn + b.idx[q] * g.C;
#pragma GCC ivdep
              for (int64_t c = c0; c < c1; ++c)
                dst[c] = static_cast<scalar_t>(static_cast<acc_t>(dst[c]) +
                                               coef * static_cast<acc_t>(gop[c]));
            }
          }
        }
      }
    }
  });
}

void check_cpu(const at::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "dilated_deform_fusion: the CPU kernel supports float32 and float64, got ",
              x.scalar_type(), " (detnas.ops.dilated_deform_fusion routes other dtypes to the "
              "PyTorch reference)");
}

at::Tensor forward_cpu(const at::Tensor& x, const at::Tensor& offset_weight,
                       at::IntArrayRef dilations, int64_t kernel_size, int64_t groups,
                       bool softmax) {
  const Geometry g = check_inputs(x, offset_weight, dilations, kernel_size, groups);
  check_cpu(x);
  at::Tensor out = empty_nhwc(g.N, g.C, g.H, g.W, x.options());
  if (out.numel() == 0) return out;
  const at::Tensor xt = to_nhwc(x), owt = to_nhwc(offset_weight);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ddf_forward_cpu", [&] {
    forward_impl<scalar_t>(g, xt.data_ptr<scalar_t>(), owt.data_ptr<scalar_t>(),
                           out.data_ptr<scalar_t>(), softmax);
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
  at::Tensor gx = zeros_nhwc(g.N, g.C, g.H, g.W, x.options());
  at::Tensor gow = empty_nhwc(g.N, g.G * 3 * g.P, g.H, g.W, x.options());
  if (x.numel() == 0) return {gx, gow.zero_()};
  const at::Tensor xt = to_nhwc(x), owt = to_nhwc(offset_weight), got = to_nhwc(grad_out);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "ddf_backward_cpu", [&] {
    backward_offset_weight<scalar_t>(g, got.data_ptr<scalar_t>(), xt.data_ptr<scalar_t>(),
                                     owt.data_ptr<scalar_t>(), gow.data_ptr<scalar_t>(),
                                     softmax);
    backward_input<scalar_t>(g, got.data_ptr<scalar_t>(), owt.data_ptr<scalar_t>(),
                             gx.data_ptr<scalar_t>(), softmax);
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
