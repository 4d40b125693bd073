// CPU kernels of the index-map padding (reflect / replicate / circular F.pad, see pad_index in index.h): every
// output row of a plane reads one source row (the maps of the outer padded dims), and within a row the source
// columns are one contiguous run (the interior: a memcpy / a vector add) plus a few border elements on each side.
#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "core/errors.h"
#include "core/parallel.h"
#include "ops/index/index.h"

namespace dlcore {

namespace {

// The longest run of map with map[j + 1] == map[j] + 1: [ja, jb), copied as a block from map[ja].
void interior_run(const std::vector<int64_t>& map, int64_t& ja, int64_t& jb) {
  int64_t n = (int64_t)map.size(), best_a = 0, best_b = 0;
  for (int64_t a = 0; a < n;) {
    int64_t b = a + 1;
    while (b < n && map[b] == map[b - 1] + 1) ++b;
    if (b - a > best_b - best_a) best_a = a, best_b = b;
    a = b;
  }
  ja = best_a, jb = best_b;
}

// The three maps of a [P, A, B, C] problem (k < 3 padded dims: identity maps of size 1 in front).
struct PadPlan {
  int64_t planes = 1;
  int64_t in_sz[3] = {1, 1, 1}, out_sz[3] = {1, 1, 1};
  std::vector<int64_t> map[3];
  int64_t ja = 0, jb = 0;
};

PadPlan make_plan(const IntList& in_shape, const std::vector<std::vector<int64_t>>& maps) {
  PadPlan p;
  int k = (int)maps.size(), nd = (int)in_shape.size();
  for (int d = 0; d < nd - k; ++d) p.planes *= in_shape[d];
  for (int j = 0; j < 3; ++j) {
    int src = j - (3 - k);  // which of the k maps fills slot j
    if (src < 0) {
      p.map[j] = {0};
      continue;
    }
    p.map[j] = maps[src];
    p.in_sz[j] = in_shape[nd - k + src];
    p.out_sz[j] = (int64_t)maps[src].size();
  }
  interior_run(p.map[2], p.ja, p.jb);
  return p;
}

template <class T>
void gather_rows(const PadPlan& p, const char* src_base, char* out_base) {
  const int64_t A = p.out_sz[0], B = p.out_sz[1], C = p.out_sz[2];
  const int64_t in_plane = p.in_sz[0] * p.in_sz[1] * p.in_sz[2], out_plane = A * B * C;
  const int64_t* mc = p.map[2].data();
  const int64_t ja = p.ja, jb = p.jb, run = jb - ja;
  parallel_for(0, p.planes * A, 64 * 1024 / (B * C + 1) + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t pa = lo; pa < hi; ++pa) {
      int64_t pl = pa / A, a = pa % A;
      const T* sp = reinterpret_cast<const T*>(src_base) + pl * in_plane + p.map[0][a] * p.in_sz[1] * p.in_sz[2];
      T* op = reinterpret_cast<T*>(out_base) + pl * out_plane + a * B * C;
      for (int64_t b = 0; b < B; ++b, op += C) {
        const T* s = sp + p.map[1][b] * p.in_sz[2];
        for (int64_t j = 0; j < ja; ++j) op[j] = s[mc[j]];
        if (run) std::memcpy(op + ja, s + mc[ja], run * sizeof(T));
        for (int64_t j = jb; j < C; ++j) op[j] = s[mc[j]];
      }
    }
  });
}

template <class T>
void scatter_add_rows(const PadPlan& p, const char* g_base, char* gin_base) {
  const int64_t A = p.out_sz[0], B = p.out_sz[1], C = p.out_sz[2];
  const int64_t in_plane = p.in_sz[0] * p.in_sz[1] * p.in_sz[2], out_plane = A * B * C;
  const int64_t* mc = p.map[2].data();
  const int64_t ja = p.ja, jb = p.jb;
  // Planes are independent (each owns its slice of the input gradient); within a plane rows accumulate in order.
  parallel_for(0, p.planes, 1024 * 1024 / (out_plane + 1) + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) {
      T* dp = reinterpret_cast<T*>(gin_base) + pl * in_plane;
      std::memset(static_cast<void*>(dp), 0, in_plane * sizeof(T));
      const T* gp = reinterpret_cast<const T*>(g_base) + pl * out_plane;
      for (int64_t a = 0; a < A; ++a) {
        T* da = dp + p.map[0][a] * p.in_sz[1] * p.in_sz[2];
        for (int64_t b = 0; b < B; ++b, gp += C) {
          T* d = da + p.map[1][b] * p.in_sz[2];
          for (int64_t j = 0; j < ja; ++j) d[mc[j]] += gp[j];
          T* di = d + (jb > ja ? mc[ja] : 0);
          const T* gi = gp + ja;
          for (int64_t j = 0, n = jb - ja; j < n; ++j) di[j] += gi[j];
          for (int64_t j = jb; j < C; ++j) d[mc[j]] += gp[j];
        }
      }
    }
  });
}

void pad_index_cpu(const Tensor& out, const Tensor& src, const std::vector<std::vector<int64_t>>& maps) {
  PadPlan p = make_plan(src.shape(), maps);
  if (out.numel() == 0) return;
  const char* s = static_cast<const char*>(src.raw_data());
  char* o = static_cast<char*>(out.raw_data());
  switch (src.itemsize()) {
    case 1: gather_rows<uint8_t>(p, s, o); break;
    case 2: gather_rows<uint16_t>(p, s, o); break;
    case 4: gather_rows<uint32_t>(p, s, o); break;
    default: gather_rows<uint64_t>(p, s, o); break;
  }
}

void pad_index_backward_cpu(const Tensor& gin, const Tensor& g, const std::vector<std::vector<int64_t>>& maps) {
  PadPlan p = make_plan(gin.shape(), maps);
  if (gin.numel() == 0) return;
  const char* gs = static_cast<const char*>(g.raw_data());
  char* d = static_cast<char*>(gin.raw_data());
  switch (gin.dtype()) {
    case DType::Float32: scatter_add_rows<float>(p, gs, d); break;
    case DType::Float64: scatter_add_rows<double>(p, gs, d); break;
    default:
      DLCORE_THROW(TypeError, "pad(): the backward of reflect/replicate/circular padding takes float32 or float64, got ",
                   dtype_name(gin.dtype()));
  }
}

template <class T>
void lerp_dim_fwd(T* out, const T* x, int64_t O, int64_t n, int64_t I, const std::vector<int64_t>& i0,
                  const std::vector<int64_t>& i1, const std::vector<double>& w0d, const std::vector<double>& w1d) {
  const int64_t m = (int64_t)i0.size();
  std::vector<T> w0(w0d.begin(), w0d.end()), w1(w1d.begin(), w1d.end());
  const int64_t *a = i0.data(), *b = i1.data();
  const T *u = w0.data(), *v = w1.data();
  if (I == 1) {  // the last dim: two gathers per output
    parallel_for(0, O, 32 * 1024 / (m + 1) + 1, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* __restrict xr = x + o * n;
        T* __restrict yr = out + o * m;
        for (int64_t j = 0; j < m; ++j) yr[j] = u[j] * xr[a[j]] + v[j] * xr[b[j]];
      }
    });
    return;
  }
  parallel_for(0, O * m, 32 * 1024 / (I + 1) + 1, [&](int64_t r0, int64_t r1) {  // rows of I: two axpys
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / m, j = r % m;
      const T* __restrict p = x + (o * n + a[j]) * I;
      const T* __restrict q = x + (o * n + b[j]) * I;
      T* __restrict y = out + r * I;
      const T s = u[j], t = v[j];
      for (int64_t k = 0; k < I; ++k) y[k] = s * p[k] + t * q[k];
    }
  });
}

template <class T>
void lerp_dim_bwd(T* gin, const T* g, int64_t O, int64_t n, int64_t I, const std::vector<int64_t>& i0,
                  const std::vector<int64_t>& i1, const std::vector<double>& w0d, const std::vector<double>& w1d) {
  const int64_t m = (int64_t)i0.size();
  std::vector<T> w0(w0d.begin(), w0d.end()), w1(w1d.begin(), w1d.end());
  const int64_t *a = i0.data(), *b = i1.data();
  const T *u = w0.data(), *v = w1.data();
  if (I == 1) {  // the last dim: each input gathers its taps (a CSR list built once), no store-to-load chains of a
    // scatter (2x upsampling adds twice in a row into one element: 3.6 ns per output, most of interpolate's backward)
    std::vector<int64_t> ptr((size_t)n + 1, 0), src((size_t)(2 * m));
    std::vector<T> wt((size_t)(2 * m));
    for (int64_t j = 0; j < m; ++j) ++ptr[a[j] + 1], ++ptr[b[j] + 1];
    for (int64_t i = 0; i < n; ++i) ptr[i + 1] += ptr[i];
    std::vector<int64_t> fill(ptr.begin(), ptr.end() - 1);
    for (int64_t j = 0; j < m; ++j) {  // taps in output order within each input (the scatter's order of additions)
      src[fill[a[j]]] = j, wt[fill[a[j]]++] = u[j];
      src[fill[b[j]]] = j, wt[fill[b[j]]++] = v[j];
    }
    const int64_t *pp = ptr.data(), *sp = src.data();
    const T* wp = wt.data();
    parallel_for(0, O, 32 * 1024 / (m + 1) + 1, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* __restrict gr = g + o * m;
        T* __restrict d = gin + o * n;
        for (int64_t i = 0; i < n; ++i) {
          T acc = T(0);
          for (int64_t e = pp[i]; e < pp[i + 1]; ++e) acc += wp[e] * gr[sp[e]];
          d[i] = acc;
        }
      }
    });
    return;
  }
  // Each o owns its slice of gin; within it the outputs j add in order (columns of I split over threads when O is
  // small).
  const int64_t cols = std::max<int64_t>(1, std::min<int64_t>(I / 256, 64));
  const int64_t cw = (I + cols - 1) / cols;
  parallel_for(0, O * cols, 32 * 1024 / (m * std::min(I, cw) + 1) + 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / cols, k0 = t % cols * cw, k1 = std::min(I, k0 + cw);
      T* __restrict d = gin + o * n * I;
      const T* __restrict gr = g + o * m * I;
      for (int64_t i = 0; i < n; ++i) std::fill(d + i * I + k0, d + i * I + k1, T(0));
      for (int64_t j = 0; j < m; ++j) {
        T* __restrict p = d + a[j] * I;
        const T* __restrict gj = gr + j * I;
        const T s = u[j];
        for (int64_t k = k0; k < k1; ++k) p[k] += s * gj[k];
        T* __restrict q = d + b[j] * I;
        const T w = v[j];
        for (int64_t k = k0; k < k1; ++k) q[k] += w * gj[k];
      }
    }
  });
}

}  // namespace

void lerp_dim_cpu(const Tensor& out, const Tensor& x, int64_t O, int64_t n, int64_t I, const std::vector<int64_t>& i0,
                  const std::vector<int64_t>& i1, const std::vector<double>& w0, const std::vector<double>& w1) {
  if (x.dtype() == DType::Float64) lerp_dim_fwd<double>(out.data<double>(), x.data<double>(), O, n, I, i0, i1, w0, w1);
  else lerp_dim_fwd<float>(out.data<float>(), x.data<float>(), O, n, I, i0, i1, w0, w1);
}

void lerp_dim_backward_cpu(const Tensor& gin, const Tensor& g, int64_t O, int64_t n, int64_t I,
                           const std::vector<int64_t>& i0, const std::vector<int64_t>& i1,
                           const std::vector<double>& w0, const std::vector<double>& w1) {
  if (g.dtype() == DType::Float64) lerp_dim_bwd<double>(gin.data<double>(), g.data<double>(), O, n, I, i0, i1, w0, w1);
  else lerp_dim_bwd<float>(gin.data<float>(), g.data<float>(), O, n, I, i0, i1, w0, w1);
}

namespace {
// Shuffle of planes of H x W (inputs: C r^2 planes per sample; outputs C planes of H r x W r), one output row per
// task item: out[b, c, h r + i, w r + j] = in[b, c r^2 + i r + j, h, w]. inverse: the same map read the other way.
template <class E>
void pixel_shuffle_rows(const E* x, E* y, int64_t B, int64_t C, int64_t H, int64_t W, int64_t r, bool inverse) {
  const int64_t rows = B * C * H * r, HW = H * W, Wr = W * r;
  parallel_for(0, rows, std::max<int64_t>(1, 16384 / (Wr + 1)), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t i = q % r, h = q / r % H, bc = q / (r * H);  // bc = b C + c
      const int64_t plane0 = bc * r * r + i * r;                 // input plane of j = 0 (over b, c r^2 + i r)
      E* orow = inverse ? nullptr : y + q * Wr;                  // shuffle: output row (b, c, h r + i)
      const E* irow = inverse ? x + q * Wr : nullptr;            // unshuffle: input row (b, c, h r + i)
      for (int64_t j = 0; j < r; ++j) {
        const int64_t plane = (plane0 + j) * HW + h * W;
        if (!inverse) {
          const E* __restrict src = x + plane;
          E* __restrict dst = orow + j;
          for (int64_t w = 0; w < W; ++w) dst[w * r] = src[w];
        } else {
          const E* __restrict src = irow + j;
          E* __restrict dst = y + plane;
          for (int64_t w = 0; w < W; ++w) dst[w] = src[w * r];
        }
      }
    }
  });
}
}  // namespace

Tensor pixel_shuffle_cpu(const Tensor& x_in, int64_t r, bool inverse) {
  const char* op = inverse ? "pixel_unshuffle" : "pixel_shuffle";
  DLCORE_CHECK(x_in.device().type == DeviceType::CPU && x_in.dim() >= 3 && r > 0, ValueError, op,
               "(): expected a cpu tensor of at least 3 dims and a positive factor, got ", x_in.describe());
  Tensor x = x_in.contiguous();
  const int nd = x.dim();
  IntList shape = x.shape();
  int64_t B = 1;
  for (int d = 0; d < nd - 3; ++d) B *= shape[d];
  int64_t C, H, W;  // the shuffled (large) side's channels C and the small planes H x W
  if (!inverse) {
    DLCORE_CHECK(shape[nd - 3] % (r * r) == 0, ValueError, op, "(): channels ", shape[nd - 3],
                 " not divisible by the factor squared ", r * r);
    C = shape[nd - 3] / (r * r), H = shape[nd - 2], W = shape[nd - 1];
    shape[nd - 3] = C, shape[nd - 2] = H * r, shape[nd - 1] = W * r;
  } else {
    DLCORE_CHECK(shape[nd - 2] % r == 0 && shape[nd - 1] % r == 0, ValueError, op, "(): height and width of ",
                 x.describe(), " not divisible by the factor ", r);
    C = shape[nd - 3], H = shape[nd - 2] / r, W = shape[nd - 1] / r;
    shape[nd - 3] = C * r * r, shape[nd - 2] = H, shape[nd - 1] = W;
  }
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  const void* xp = x.raw_data();
  void* yp = y.raw_data();
  switch (x.itemsize()) {
    case 1: pixel_shuffle_rows((const uint8_t*)xp, (uint8_t*)yp, B, C, H, W, r, inverse); break;
    case 2: pixel_shuffle_rows((const uint16_t*)xp, (uint16_t*)yp, B, C, H, W, r, inverse); break;
    case 4: pixel_shuffle_rows((const uint32_t*)xp, (uint32_t*)yp, B, C, H, W, r, inverse); break;
    default: pixel_shuffle_rows((const uint64_t*)xp, (uint64_t*)yp, B, C, H, W, r, inverse); break;
  }
  return y;
}

static KernelRegistrar reg_pf(pad_index_op, DeviceType::CPU, &pad_index_cpu, "cpu");
static KernelRegistrar reg_pb(pad_index_backward_op, DeviceType::CPU, &pad_index_backward_cpu, "cpu");

}  // namespace dlcore
