// CUDA kernels of the dilated-deformable fusion op (see ddf_kernels.h; no torch headers).
//
// Forward: one thread per (location, group, V-channel vector); each thread reads the packed
// offsets/weights of its location, computes the P bilinear set-ups and accumulates V channels
// with vectorised (up to 16-byte) loads in fp32 (fp64 for fp64).
// Backward: a segment of `seg` lanes (power of two <= 32) per (location, group); each lane
// takes every seg-th V-channel vector, the per-point offset/weight gradients are reduced over
// the segment with warp shuffles (no atomics, deterministic), the input gradient is scattered
// with atomics (or, deterministic mode, built by a sort + per-pixel gather).
#include <cub/device/device_radix_sort.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "ddf_kernels.h"

namespace detnas {
namespace ddf {
namespace cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
struct Cvt {  // float32 / float64: identity
  using acc = T;
  __device__ __forceinline__ static acc to(T v) { return v; }
  __device__ __forceinline__ static T from(acc v) { return v; }
};
template <>
struct Cvt<__half> {
  using acc = float;
  __device__ __forceinline__ static float to(__half v) { return __half2float(v); }
  __device__ __forceinline__ static __half from(float v) { return __float2half_rn(v); }
};
template <>
struct Cvt<__nv_bfloat16> {
  using acc = float;
  __device__ __forceinline__ static float to(__nv_bfloat16 v) { return __bfloat162float(v); }
  __device__ __forceinline__ static __nv_bfloat16 from(float v) {
    return __float2bfloat16_rn(v);
  }
};

__device__ __forceinline__ float dev_exp(float v) { return expf(v); }
__device__ __forceinline__ double dev_exp(double v) { return exp(v); }
__device__ __forceinline__ float dev_floor(float v) { return floorf(v); }
__device__ __forceinline__ double dev_floor(double v) { return floor(v); }

// V consecutive elements moved with one aligned (up to 16-byte) load or store.
template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

template <typename T, int V>
__device__ __forceinline__ Vec<T, V> load_vec(const T* p) {
  return *reinterpret_cast<const Vec<T, V>*>(p);
}

template <typename T, int V>
__device__ __forceinline__ void store_vec(T* p, const Vec<T, V>& v) {
  *reinterpret_cast<Vec<T, V>*>(p) = v;
}

// Bilinear set-up of one point; corners (y0,x0) (y0,x1) (y1,x0) (y1,x1); pix = -1 if outside.
template <typename A>
struct Corners {
  int64_t pix[4];
  A w[4];
  A ly, lx;
};

template <typename A>
__device__ __forceinline__ bool corners(A py, A px, int64_t H, int64_t W, Corners<A>& c) {
  if (!(py > A(-1) && py < A(H) && px > A(-1) && px < A(W))) return false;
  const A fy = dev_floor(py), fx = dev_floor(px);
  const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
  c.ly = py - fy;
  c.lx = px - fx;
  const A hy = A(1) - c.ly, hx = A(1) - c.lx;
  const bool vy0 = y0 >= 0, vy1 = y0 + 1 < H, vx0 = x0 >= 0, vx1 = x0 + 1 < W;
  c.pix[0] = (vy0 && vx0) ? y0 * W + x0 : -1;
  c.pix[1] = (vy0 && vx1) ? y0 * W + x0 + 1 : -1;
  c.pix[2] = (vy1 && vx0) ? (y0 + 1) * W + x0 : -1;
  c.pix[3] = (vy1 && vx1) ? (y0 + 1) * W + x0 + 1 : -1;
  c.w[0] = hy * hx;
  c.w[1] = hy * c.lx;
  c.w[2] = c.ly * hx;
  c.w[3] = c.ly * c.lx;
  return true;
}

// Sampling position of point p for output (h, w) given the packed offsets of (loc, group).
template <typename T, typename A>
__device__ __forceinline__ void point_position(const Shape& s, const T* owp, int p, int64_t h,
                                               int64_t w, A& py, A& px) {
  const int kk = static_cast<int>(s.K * s.K);
  const int r = p / kk, rem = p - r * kk;
  const int i = rem / static_cast<int>(s.K), j = rem - i * static_cast<int>(s.K);
  const int half = static_cast<int>(s.K / 2), d = s.dil[r];
  py = A(h + (i - half) * d) + Cvt<T>::to(owp[2 * p + 1]);
  px = A(w + (j - half) * d) + Cvt<T>::to(owp[2 * p]);
}

// Softmax statistics (max, 1/sum) of the P raw weights; identity when softmax is off.
template <typename T, typename A>
struct PointWeights {
  const T* raw;
  bool softmax;
  A mx, inv_sum;
  __device__ __forceinline__ PointWeights(const T* raw_, int P, bool softmax_)
      : raw(raw_), softmax(softmax_), mx(0), inv_sum(1) {
    if (!softmax) return;
    mx = Cvt<T>::to(raw[0]);
    for (int p = 1; p < P; ++p) mx = max(mx, Cvt<T>::to(raw[p]));
    A sum = 0;
    for (int p = 0; p < P; ++p) sum += dev_exp(Cvt<T>::to(raw[p]) - mx);
    inv_sum = A(1) / sum;
  }
  __device__ __forceinline__ A operator()(int p) const {
    const A z = Cvt<T>::to(raw[p]);
    return softmax ? dev_exp(z - mx) * inv_sum : z;
  }
};

template <typename T, int V>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(const Shape s, const T* __restrict__ x, const T* __restrict__ ow,
                   T* __restrict__ out) {
  using A = typename Cvt<T>::acc;
  const int64_t Cg = s.C / s.G, lanes = Cg / V, P = s.R * s.K * s.K;
  const int64_t total = s.N * s.H * s.W * s.G * lanes;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t lane = idx % lanes, lg = idx / lanes;
    const int64_t g = lg % s.G, loc = lg / s.G;
    const int64_t w = loc % s.W, h = (loc / s.W) % s.H, n = loc / (s.W * s.H);
    const T* owp = ow + lg * 3 * P;
    const PointWeights<T, A> pw(owp + 2 * P, static_cast<int>(P), s.softmax);
    const T* xn = x + n * s.H * s.W * s.C + g * Cg + lane * V;
    A acc[V];
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] = A(0);
    for (int p = 0; p < P; ++p) {
      A py, px;
      point_position<T, A>(s, owp, p, h, w, py, px);
      Corners<A> c;
      if (!corners(py, px, s.H, s.W, c)) continue;
      const A wp = pw(p);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        if (c.pix[q] < 0) continue;
        const Vec<T, V> v = load_vec<T, V>(xn + c.pix[q] * s.C);
        const A coef = wp * c.w[q];
#pragma unroll
        for (int k = 0; k < V; ++k) acc[k] += coef * Cvt<T>::to(v.v[k]);
      }
    }
    Vec<T, V> o;
#pragma unroll
    for (int k = 0; k < V; ++k) o.v[k] = Cvt<T>::from(acc[k]);
    store_vec<T, V>(out + loc * s.C + g * Cg + lane * V, o);
  }
}

// gw_buf: per-point weight gradients (only used with softmax), A[N*H*W*G*P].
template <typename T, int V>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(const Shape s, const int seg, const T* __restrict__ go,
                    const T* __restrict__ x, const T* __restrict__ ow,
                    typename Cvt<T>::acc* __restrict__ gx_acc, T* __restrict__ gow,
                    typename Cvt<T>::acc* __restrict__ gw_buf) {
  using A = typename Cvt<T>::acc;
  const int64_t Cg = s.C / s.G, P = s.R * s.K * s.K;
  const int64_t chunks = Cg / (V * seg);
  const int64_t total = s.N * s.H * s.W * s.G * seg;
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  // Inactive lanes (past the end) still run the loop so that every shuffle has all 32 lanes;
  // segments never straddle warps (seg divides 32) and are wholly active or inactive.
  const bool active = idx < total;
  const int64_t lane = idx % seg, lg = active ? idx / seg : 0;
  const int64_t g = lg % s.G, loc = lg / s.G;
  const int64_t w = loc % s.W, h = (loc / s.W) % s.H, n = loc / (s.W * s.H);
  const T* owp = ow + lg * 3 * P;
  const PointWeights<T, A> pw(owp + 2 * P, static_cast<int>(P), s.softmax);
  const T* xn = x + n * s.H * s.W * s.C + g * Cg;
  const T* gon = go + loc * s.C + g * Cg;
  A* gxn = gx_acc == nullptr ? nullptr : gx_acc + n * s.H * s.W * s.C + g * Cg;
  T* gp = gow + lg * 3 * P;
  for (int p = 0; p < P; ++p) {
    A gw = 0, sx = 0, sy = 0;
    const A wp = pw(p);
    A py, px;
    point_position<T, A>(s, owp, p, h, w, py, px);
    Corners<A> c;
    if (active && corners(py, px, s.H, s.W, c)) {
      const A hy = A(1) - c.ly, hx = A(1) - c.lx;
      for (int64_t it = 0; it < chunks; ++it) {
        const int64_t c0 = (lane + it * seg) * V;
        const Vec<T, V> gv = load_vec<T, V>(gon + c0);
        Vec<T, V> v[4];
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          if (c.pix[q] >= 0) {
            v[q] = load_vec<T, V>(xn + c.pix[q] * s.C + c0);
          } else {
#pragma unroll
            for (int k = 0; k < V; ++k) v[q].v[k] = Cvt<T>::from(A(0));
          }
        }
#pragma unroll
        for (int k = 0; k < V; ++k) {
          const A gk = Cvt<T>::to(gv.v[k]);
          const A a = Cvt<T>::to(v[0].v[k]), b = Cvt<T>::to(v[1].v[k]);
          const A cc = Cvt<T>::to(v[2].v[k]), d = Cvt<T>::to(v[3].v[k]);
          gw += gk * (c.w[0] * a + c.w[1] * b + c.w[2] * cc + c.w[3] * d);
          sx += gk * (hy * (b - a) + c.ly * (d - cc));
          sy += gk * (hx * (cc - a) + c.lx * (d - b));
        }
        if (gxn != nullptr) {
#pragma unroll
          for (int q = 0; q < 4; ++q) {
            if (c.pix[q] < 0) continue;
            const A coef = wp * c.w[q];
            A* dst = gxn + c.pix[q] * s.C + c0;
#pragma unroll
            for (int k = 0; k < V; ++k) atomicAdd(dst + k, coef * Cvt<T>::to(gv.v[k]));
          }
        }
      }
    }
    for (int off = seg / 2; off > 0; off >>= 1) {
      gw += __shfl_xor_sync(0xffffffffu, gw, off);
      sx += __shfl_xor_sync(0xffffffffu, sx, off);
      sy += __shfl_xor_sync(0xffffffffu, sy, off);
    }
    if (active && lane == 0) {
      gp[2 * p] = Cvt<T>::from(wp * sx);
      gp[2 * p + 1] = Cvt<T>::from(wp * sy);
      if (s.softmax) {
        gw_buf[lg * P + p] = gw;
      } else {
        gp[2 * P + p] = Cvt<T>::from(gw);
      }
    }
  }
  if (s.softmax && active && lane == 0) {
    // d softmax: dz_p = s_p * (g_p - sum_q s_q g_q)
    const A* gb = gw_buf + lg * P;
    A dot = 0;
    for (int p = 0; p < P; ++p) dot += pw(p) * gb[p];
    for (int p = 0; p < P; ++p) gp[2 * P + p] = Cvt<T>::from(pw(p) * (gb[p] - dot));
  }
}

// ---- deterministic input gradient: key every corner by its target, sort, gather ----------

template <typename T>
__global__ void __launch_bounds__(kThreads)
    det_keys_kernel(const Shape s, const T* __restrict__ ow, uint32_t* __restrict__ keys,
                    int32_t* __restrict__ ids, typename Cvt<T>::acc* __restrict__ coefs) {
  using A = typename Cvt<T>::acc;
  const int64_t P = s.R * s.K * s.K, total = s.N * s.H * s.W * s.G;
  const uint32_t invalid = static_cast<uint32_t>(total);
  for (int64_t lg = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; lg < total;
       lg += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t g = lg % s.G, loc = lg / s.G;
    const int64_t w = loc % s.W, h = (loc / s.W) % s.H, n = loc / (s.W * s.H);
    const T* owp = ow + lg * 3 * P;
    const PointWeights<T, A> pw(owp + 2 * P, static_cast<int>(P), s.softmax);
    for (int p = 0; p < P; ++p) {
      A py, px;
      point_position<T, A>(s, owp, p, h, w, py, px);
      Corners<A> c;
      const bool inside = corners(py, px, s.H, s.W, c);
      const A wp = pw(p);
      for (int q = 0; q < 4; ++q) {
        const int64_t item = (lg * P + p) * 4 + q;
        const bool valid = inside && c.pix[q] >= 0;
        keys[item] = valid ? static_cast<uint32_t>((n * s.H * s.W + c.pix[q]) * s.G + g) : invalid;
        ids[item] = static_cast<int32_t>(item);
        coefs[item] = valid ? wp * c.w[q] : A(0);
      }
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    det_bounds_kernel(const uint32_t* __restrict__ keys, int64_t M, uint32_t invalid,
                      int32_t* __restrict__ start, int32_t* __restrict__ end) {
  for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < M;
       j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint32_t k = keys[j];
    if (k == invalid) continue;
    if (j == 0 || keys[j - 1] != k) start[k] = static_cast<int32_t>(j);
    if (j == M - 1 || keys[j + 1] != k) end[k] = static_cast<int32_t>(j + 1);
  }
}

template <typename T, int V>
__global__ void __launch_bounds__(kThreads)
    det_gather_kernel(const Shape s, const T* __restrict__ go, const int32_t* __restrict__ ids,
                      const typename Cvt<T>::acc* __restrict__ coefs,
                      const int32_t* __restrict__ start, const int32_t* __restrict__ end,
                      T* __restrict__ gx) {
  using A = typename Cvt<T>::acc;
  const int64_t Cg = s.C / s.G, lanes = Cg / V, P = s.R * s.K * s.K;
  const int64_t total = s.N * s.H * s.W * s.G * lanes;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t lane = idx % lanes, target = idx / lanes;  // target = pixel * G + g
    const int64_t g = target % s.G, pixel = target / s.G;
    A acc[V];
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] = A(0);
    for (int32_t j = start[target]; j < end[target]; ++j) {
      const int64_t item = ids[j];
      const int64_t loc = item / (4 * P) / s.G;
      const A coef = coefs[item];
      const Vec<T, V> gv = load_vec<T, V>(go + loc * s.C + g * Cg + lane * V);
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] += coef * Cvt<T>::to(gv.v[k]);
    }
    Vec<T, V> o;
#pragma unroll
    for (int k = 0; k < V; ++k) o.v[k] = Cvt<T>::from(acc[k]);
    store_vec<T, V>(gx + pixel * s.C + g * Cg + lane * V, o);
  }
}

// ---- host helpers --------------------------------------------------------------------------

inline unsigned int blocks_for(int64_t work) {
  const int64_t b = (work + kThreads - 1) / kThreads;
  return static_cast<unsigned int>(b < 1 ? 1 : (b > (1LL << 30) ? (1LL << 30) : b));
}

inline bool aligned(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

// Widest V (<= 16 bytes) dividing the group's channels with every pointer aligned for it.
template <typename T>
int vector_width(int64_t Cg, std::initializer_list<const void*> ptrs) {
  for (int v = static_cast<int>(16 / sizeof(T)); v > 1; v /= 2) {
    if (Cg % v) continue;
    bool ok = true;
    for (const void* p : ptrs) ok = ok && aligned(p, sizeof(T) * v);
    if (ok) return v;
  }
  return 1;
}

inline int64_t num_points(const Shape& s) { return s.R * s.K * s.K; }

inline size_t round_up(size_t b) { return (b + 255) / 256 * 256; }

template <typename T, typename F>
cudaError_t with_width(int v, F&& f) {
  // Instantiates only vectors of at most 16 bytes.
  switch (v) {
    case 8:
      if constexpr (sizeof(T) <= 2) return f(std::integral_constant<int, 8>{});
      break;
    case 4:
      if constexpr (sizeof(T) <= 4) return f(std::integral_constant<int, 4>{});
      break;
    case 2:
      return f(std::integral_constant<int, 2>{});
    default:
      break;
  }
  return f(std::integral_constant<int, 1>{});
}

template <typename F>
cudaError_t with_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat64:
      return f(double{});
    case DType::kFloat16:
      return f(__half{});
    case DType::kBFloat16:
      return f(__nv_bfloat16{});
  }
  return cudaErrorInvalidValue;
}

template <typename T>
cudaError_t forward_t(const Shape& s, const T* x, const T* ow, T* out, cudaStream_t stream) {
  const int64_t Cg = s.C / s.G;
  const int v = vector_width<T>(Cg, {x, out});
  return with_width<T>(v, [&](auto vc) {
    constexpr int V = decltype(vc)::value;
    const int64_t work = s.N * s.H * s.W * s.G * (Cg / V);
    forward_kernel<T, V><<<blocks_for(work), kThreads, 0, stream>>>(s, x, ow, out);
    return cudaGetLastError();
  });
}

template <typename T>
cudaError_t backward_t(const Shape& s, const T* go, const T* x, const T* ow,
                       typename Cvt<T>::acc* gx_acc, T* gow, void* workspace,
                       cudaStream_t stream) {
  using A = typename Cvt<T>::acc;
  const int64_t Cg = s.C / s.G;
  const int v = vector_width<T>(Cg, {x, go});
  return with_width<T>(v, [&](auto vc) {
    constexpr int V = decltype(vc)::value;
    int seg = 1;  // largest power of two <= 32 dividing the vectors per group
    while (seg < 32 && (Cg / V) % (2 * seg) == 0) seg *= 2;
    const int64_t work = s.N * s.H * s.W * s.G * seg;
    backward_kernel<T, V><<<blocks_for(work), kThreads, 0, stream>>>(
        s, seg, go, x, ow, gx_acc, gow, static_cast<A*>(workspace));
    return cudaGetLastError();
  });
}

// Radix-sort bits for keys in [0, targets] (targets itself marks corners outside the image).
inline int key_bits(int64_t targets) {
  int bits = 1;
  while (bits < 32 && (static_cast<uint64_t>(targets) >> bits) != 0) ++bits;
  return bits;
}

struct DetLayout {
  int64_t M, targets;
  size_t keys_in, keys_out, ids_in, ids_out, coefs, start, end, temp, temp_bytes, total;
};

template <typename A>
bool det_layout(const Shape& s, DetLayout& L) {
  L.targets = s.N * s.H * s.W * s.G;
  L.M = L.targets * num_points(s) * 4;
  if (L.M <= 0 || L.M > INT32_MAX || L.targets >= UINT32_MAX) return false;
  L.temp_bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, L.temp_bytes, static_cast<const uint32_t*>(nullptr),
                                  static_cast<uint32_t*>(nullptr),
                                  static_cast<const int32_t*>(nullptr),
                                  static_cast<int32_t*>(nullptr), static_cast<int>(L.M), 0,
                                  key_bits(L.targets));
  size_t off = 0;
  auto take = [&](size_t bytes) {
    const size_t at = off;
    off += round_up(bytes);
    return at;
  };
  L.keys_in = take(L.M * sizeof(uint32_t));
  L.keys_out = take(L.M * sizeof(uint32_t));
  L.ids_in = take(L.M * sizeof(int32_t));
  L.ids_out = take(L.M * sizeof(int32_t));
  L.coefs = take(L.M * sizeof(A));
  L.start = take(L.targets * sizeof(int32_t));
  L.end = take(L.targets * sizeof(int32_t));
  L.temp = take(L.temp_bytes);
  L.total = off;
  return true;
}

template <typename T>
cudaError_t backward_input_det_t(const Shape& s, const T* go, const T* ow, T* gx, void* ws,
                                 size_t ws_bytes, cudaStream_t stream) {
  using A = typename Cvt<T>::acc;
  DetLayout L;
  if (!det_layout<A>(s, L) || ws_bytes < L.total) return cudaErrorInvalidValue;
  char* base = static_cast<char*>(ws);
  auto* keys_in = reinterpret_cast<uint32_t*>(base + L.keys_in);
  auto* keys_out = reinterpret_cast<uint32_t*>(base + L.keys_out);
  auto* ids_in = reinterpret_cast<int32_t*>(base + L.ids_in);
  auto* ids_out = reinterpret_cast<int32_t*>(base + L.ids_out);
  auto* coefs = reinterpret_cast<A*>(base + L.coefs);
  auto* start = reinterpret_cast<int32_t*>(base + L.start);
  auto* end = reinterpret_cast<int32_t*>(base + L.end);
  det_keys_kernel<T><<<blocks_for(L.targets), kThreads, 0, stream>>>(s, ow, keys_in, ids_in,
                                                                      coefs);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  const int end_bit = key_bits(L.targets);
  size_t temp_bytes = L.temp_bytes;
  err = cub::DeviceRadixSort::SortPairs(base + L.temp, temp_bytes, keys_in, keys_out, ids_in,
                                        ids_out, static_cast<int>(L.M), 0, end_bit, stream);
  if (err != cudaSuccess) return err;
  err = cudaMemsetAsync(start, 0, L.targets * sizeof(int32_t), stream);
  if (err != cudaSuccess) return err;
  err = cudaMemsetAsync(end, 0, L.targets * sizeof(int32_t), stream);
  if (err != cudaSuccess) return err;
  det_bounds_kernel<<<blocks_for(L.M), kThreads, 0, stream>>>(
      keys_out, L.M, static_cast<uint32_t>(L.targets), start, end);
  err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  const int64_t Cg = s.C / s.G;
  const int v = vector_width<T>(Cg, {go, gx});
  return with_width<T>(v, [&](auto vc) {
    constexpr int V = decltype(vc)::value;
    det_gather_kernel<T, V><<<blocks_for(L.targets * (Cg / V)), kThreads, 0, stream>>>(
        s, go, ids_out, coefs, start, end, gx);
    return cudaGetLastError();
  });
}

}  // namespace

cudaError_t forward(const Shape& s, DType dtype, const void* x, const void* offset_weight,
                    void* out, cudaStream_t stream) {
  if (s.N * s.H * s.W * s.C == 0) return cudaSuccess;
  return with_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    return forward_t<T>(s, static_cast<const T*>(x), static_cast<const T*>(offset_weight),
                        static_cast<T*>(out), stream);
  });
}

size_t backward_workspace_bytes(const Shape& s, DType dtype) {
  if (!s.softmax) return 0;
  const size_t acc = dtype == DType::kFloat64 ? sizeof(double) : sizeof(float);
  return static_cast<size_t>(s.N * s.H * s.W * s.G * num_points(s)) * acc;
}

cudaError_t backward(const Shape& s, DType dtype, const void* grad_out, const void* x,
                     const void* offset_weight, void* grad_x_acc, void* grad_offset_weight,
                     void* workspace, cudaStream_t stream) {
  if (s.N * s.H * s.W == 0) return cudaSuccess;
  return with_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    using A = typename Cvt<T>::acc;
    return backward_t<T>(s, static_cast<const T*>(grad_out), static_cast<const T*>(x),
                         static_cast<const T*>(offset_weight), static_cast<A*>(grad_x_acc),
                         static_cast<T*>(grad_offset_weight), workspace, stream);
  });
}

size_t deterministic_workspace_bytes(const Shape& s, DType dtype) {
  DetLayout L;
  const bool ok = dtype == DType::kFloat64 ? det_layout<double>(s, L) : det_layout<float>(s, L);
  return ok ? L.total : 0;
}

cudaError_t backward_input_deterministic(const Shape& s, DType dtype, const void* grad_out,
                                         const void* offset_weight, void* grad_x,
                                         void* workspace, size_t workspace_bytes,
                                         cudaStream_t stream) {
  if (s.N * s.H * s.W * s.C == 0) return cudaSuccess;
  return with_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    return backward_input_det_t<T>(s, static_cast<const T*>(grad_out),
                                   static_cast<const T*>(offset_weight),
                                   static_cast<T*>(grad_x), workspace, workspace_bytes,
                                   stream);
  });
}

}  // namespace cuda
}  // namespace ddf
}  // namespace detnas
