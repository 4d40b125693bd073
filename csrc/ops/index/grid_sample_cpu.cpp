// CPU kernels of F.grid_sample for 4-D input, bilinear and nearest modes, every padding mode, float32/float64:
// torch's arithmetic per output point (grid_sampler_compute_source_index: unnormalise, then clip or reflect; four
// taps weighted by the opposite rectangle areas; nearest by round-half-even), the channels looped inside. The
// backward gives the input gradient (each point's taps scattered; threads own channel ranges, so no two add into one
// element) and the grid gradient (the taps' weight derivatives times the source index's derivative; threads own
// points). Bicubic and 5-D inputs stay with the composed form (python/dlcore/_torch_extra.py). The composed form of
// these modes ran ~50 small ops: [8,16,32,32] sampled at a 16 x 16 grid, forward + backward 1.2 ms, torch 0.21.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/common.h"
#include "core/errors.h"
#include "core/parallel.h"
#include "ops/index/index.h"

namespace dlcore {

namespace {

// Source coordinate of one grid value and d(coordinate)/d(grid value).
template <class T>
T source_index(T coord, int64_t size, int padding, bool align, T& grad) {
  T g;
  if (align) {
    g = T(size - 1) / 2;
    coord = (coord + 1) / 2 * T(size - 1);
  } else {
    g = T(size) / 2;
    coord = ((coord + 1) * T(size) - 1) / 2;
  }
  auto clip = [&](T in, T& gc) {
    if (in <= T(0)) {
      gc = 0;
      return T(0);
    }
    const T hi = T(size - 1);
    if (in >= hi) {
      gc = 0;
      return hi;
    }
    gc = 1;
    return in;
  };
  if (padding == 1) {  // border
    T gc;
    coord = clip(coord, gc);
    g *= gc;
  } else if (padding == 2) {  // reflection, then a clip
    const T lo2 = align ? T(0) : T(-1), hi2 = align ? T(2 * (size - 1)) : T(2 * size - 1);
    T gr;
    if (lo2 == hi2) {
      gr = 0;
      coord = 0;
    } else {
      const T mn = lo2 / 2, span = (hi2 - lo2) / 2;
      T in = coord - mn;
      T sign = 1;
      if (in < 0) {
        sign = -1;
        in = -in;
      }
      const T extra = std::fmod(in, span);
      const T flips = std::floor(in / span);
      if (std::fmod(flips, T(2)) == 0) {
        gr = sign;
        coord = extra + mn;
      } else {
        gr = -sign;
        coord = span - extra + mn;
      }
    }
    T gc;
    coord = clip(coord, gc);
    g *= gr * gc;
  }
  grad = g;
  return coord;
}

struct GsDims {
  int64_t N, C, H, W, P;  // P: output points per sample (Ho * Wo)
};

// The four taps of a point: index into the plane (or -1 when outside) and weight; the corner coordinates for the
// grid gradient. nearest: one tap.
template <class T>
struct Taps {
  int64_t idx[4];
  T w[4];
  T ix, iy, gx_mult, gy_mult, fx, fy;  // fx, fy: floor(ix), floor(iy)
};

template <class T>
DLCORE_ALWAYS_INLINE void point_taps(const T* gp, const GsDims& d, int padding, bool align, bool nearest,
                                     Taps<T>& t) {
  t.ix = source_index<T>(gp[0], d.W, padding, align, t.gx_mult);
  t.iy = source_index<T>(gp[1], d.H, padding, align, t.gy_mult);
  auto at = [&](T yv, T xv) -> int64_t {  // (comparisons in T: NaN or huge coordinates never reach a cast)
    return (xv >= 0 && xv < T(d.W) && yv >= 0 && yv < T(d.H)) ? (int64_t)yv * d.W + (int64_t)xv : -1;
  };
  if (nearest) {
    t.idx[0] = at(std::nearbyint(t.iy), std::nearbyint(t.ix));
    t.w[0] = 1;
    t.idx[1] = t.idx[2] = t.idx[3] = -1;
    t.w[1] = t.w[2] = t.w[3] = t.fx = t.fy = 0;
    return;
  }
  const T x0 = std::floor(t.ix), y0 = std::floor(t.iy), x1 = x0 + 1, y1 = y0 + 1;
  t.fx = x0;
  t.fy = y0;
  t.idx[0] = at(y0, x0);
  t.w[0] = (x1 - t.ix) * (y1 - t.iy);  // nw
  t.idx[1] = at(y0, x1);
  t.w[1] = (t.ix - x0) * (y1 - t.iy);  // ne
  t.idx[2] = at(y1, x0);
  t.w[2] = (x1 - t.ix) * (t.iy - y0);  // sw
  t.idx[3] = at(y1, x1);
  t.w[3] = (t.ix - x0) * (t.iy - y0);  // se
}

template <class T>
void gs_forward(T* out, const T* x, const T* grid, const GsDims& d, int padding, bool align, bool nearest) {
  const int64_t HW = d.H * d.W;
  constexpr int64_t B = 16;  // points per block: their taps in small arrays, then channel by channel contiguous
  const int64_t nb = (d.P + B - 1) / B;  // stores of B outputs (one output per point per channel was a strided store)
  parallel_for(0, d.N * nb, std::max<int64_t>(1, 256 / (d.C + 1)), [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t n = blk / nb, p0 = blk % nb * B, m = std::min(B, d.P - p0);
      int64_t idx[4][B];
      T w[4][B];
      bool inside = !nearest;
      for (int64_t j = 0; j < m; ++j) {
        Taps<T> t;
        point_taps<T>(grid + (n * d.P + p0 + j) * 2, d, padding, align, nearest, t);
        for (int k = 0; k < 4; ++k) {
          idx[k][j] = t.idx[k];
          w[k][j] = t.w[k];
          inside &= t.idx[k] >= 0;
        }
      }
      const T* xn = x + n * d.C * HW;
      T* on = out + n * d.C * d.P + p0;
      if (inside) {  // every tap of the block inside the input: no tests
        for (int64_t c = 0; c < d.C; ++c) {
          const T* __restrict xc = xn + c * HW;
          T* __restrict oc = on + c * d.P;
          for (int64_t j = 0; j < m; ++j)
            oc[j] = ((xc[idx[0][j]] * w[0][j] + xc[idx[1][j]] * w[1][j]) + xc[idx[2][j]] * w[2][j]) +
                    xc[idx[3][j]] * w[3][j];
        }
        continue;
      }
      for (int64_t c = 0; c < d.C; ++c) {
        const T* xc = xn + c * HW;
        T* oc = on + c * d.P;
        for (int64_t j = 0; j < m; ++j) {
          T v = 0;
          for (int k = 0; k < (nearest ? 1 : 4); ++k)
            if (idx[k][j] >= 0) v += xc[idx[k][j]] * w[k][j];
          oc[j] = v;
        }
      }
    }
  });
}

template <class T>
void gs_backward(T* gx, T* ggrid, const T* g, const T* x, const T* grid, const GsDims& d, int padding, bool align,
                 bool nearest) {
  const int64_t HW = d.H * d.W;
  if (gx) {  // threads own (sample, channel range) blocks: every point of the sample scattered into their planes
    const int64_t cb = std::max<int64_t>(1, std::min<int64_t>(d.C, 8));
    const int64_t nblk = (d.C + cb - 1) / cb;
    parallel_for(0, d.N * nblk, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t n = b / nblk, c0 = b % nblk * cb, c1 = std::min(d.C, c0 + cb);
        T* gxn = gx + n * d.C * HW;
        std::fill(gxn + c0 * HW, gxn + c1 * HW, T(0));
        const T* gn = g + n * d.C * d.P;
        for (int64_t p = 0; p < d.P; ++p) {
          Taps<T> t;
          point_taps<T>(grid + (n * d.P + p) * 2, d, padding, align, nearest, t);
          for (int64_t c = c0; c < c1; ++c) {
            const T gv = gn[c * d.P + p];
            T* gxc = gxn + c * HW;
            for (int k = 0; k < 4; ++k)
              if (t.idx[k] >= 0) gxc[t.idx[k]] += t.w[k] * gv;
          }
        }
      }
    });
  }
  if (ggrid) {
    if (nearest) {  // torch: zero gradient for the grid in nearest mode
      std::fill(ggrid, ggrid + d.N * d.P * 2, T(0));
      return;
    }
    parallel_for(0, d.N * d.P, std::max<int64_t>(1, 2048 / (d.C + 1)), [&](int64_t q0, int64_t q1) {
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t n = q / d.P, p = q % d.P;
        Taps<T> t;
        point_taps<T>(grid + q * 2, d, padding, align, false, t);
        const T x0 = t.fx, y0 = t.fy, x1 = x0 + 1, y1 = y0 + 1;
        // d w_k / d ix and d w_k / d iy of the four taps (nw, ne, sw, se)
        const T dwx[4] = {-(y1 - t.iy), (y1 - t.iy), -(t.iy - y0), (t.iy - y0)};
        const T dwy[4] = {-(x1 - t.ix), -(t.ix - x0), (x1 - t.ix), (t.ix - x0)};
        T gix = 0, giy = 0;
        const T* xn = x + n * d.C * HW;
        const T* gn = g + n * d.C * d.P + p;
        for (int64_t c = 0; c < d.C; ++c) {
          const T gv = gn[c * d.P];
          const T* xc = xn + c * HW;
          for (int k = 0; k < 4; ++k)
            if (t.idx[k] >= 0) {
              const T v = xc[t.idx[k]] * gv;
              gix += v * dwx[k];
              giy += v * dwy[k];
            }
        }
        ggrid[q * 2] = t.gx_mult * gix;
        ggrid[q * 2 + 1] = t.gy_mult * giy;
      }
    });
  }
}

GsDims gs_dims(const Tensor& x, const Tensor& grid, const char* op) {
  DLCORE_CHECK(x.device().type == DeviceType::CPU && grid.device().type == DeviceType::CPU &&
                   (x.dtype() == DType::Float32 || x.dtype() == DType::Float64) && grid.dtype() == x.dtype(),
               TypeError, op, "(): the cpu kernel takes float32/float64 cpu tensors of one dtype, got ", x.describe(),
               " and ", grid.describe());
  DLCORE_CHECK(x.dim() == 4 && grid.dim() == 4 && grid.size(3) == 2 && grid.size(0) == x.size(0), ValueError, op,
               "(): expected input [N, C, H, W] and grid [N, Ho, Wo, 2], got ", x.describe(), " and ",
               grid.describe());
  DLCORE_CHECK(x.size(2) > 0 && x.size(3) > 0, ValueError, op, "(): expected non-empty spatial dims, got ",
               x.describe());
  return {x.size(0), x.size(1), x.size(2), x.size(3), grid.size(1) * grid.size(2)};
}

}  // namespace

Tensor grid_sample2d_cpu(const Tensor& x_in, const Tensor& grid_in, bool nearest, int padding, bool align) {
  const GsDims d = gs_dims(x_in, grid_in, "grid_sample");
  DLCORE_CHECK(padding >= 0 && padding <= 2, ValueError, "grid_sample(): padding mode ", padding, " unknown");
  Tensor x = x_in.contiguous(), grid = grid_in.contiguous();
  Tensor out = Tensor::empty({d.N, d.C, grid.size(1), grid.size(2)}, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  if (x.dtype() == DType::Float64)
    gs_forward<double>(out.data<double>(), x.data<double>(), grid.data<double>(), d, padding, align, nearest);
  else
    gs_forward<float>(out.data<float>(), x.data<float>(), grid.data<float>(), d, padding, align, nearest);
  return out;
}

std::pair<Tensor, Tensor> grid_sample2d_backward_cpu(const Tensor& g_in, const Tensor& x_in, const Tensor& grid_in,
                                                     bool nearest, int padding, bool align, bool need_x,
                                                     bool need_grid) {
  const GsDims d = gs_dims(x_in, grid_in, "grid_sample_backward");
  Tensor x = x_in.contiguous(), grid = grid_in.contiguous(), g = g_in.contiguous();
  DLCORE_CHECK(g.dim() == 4 && g.size(0) == d.N && g.size(1) == d.C && g.size(2) * g.size(3) == d.P &&
                   g.dtype() == x.dtype() && g.device() == x.device(),
               ValueError, "grid_sample_backward(): grad_output ", g.describe(), " does not match the output");
  const bool empty = d.N == 0 || d.C == 0 || d.P == 0;  // (then every gradient is zeros, possibly empty)
  Tensor gx = need_x ? (empty ? Tensor::zeros(x.shape(), x.dtype(), x.device())
                              : Tensor::empty(x.shape(), x.dtype(), x.device()))
                     : Tensor();
  Tensor gg = need_grid ? (empty ? Tensor::zeros(grid.shape(), grid.dtype(), grid.device())
                                 : Tensor::empty(grid.shape(), grid.dtype(), grid.device()))
                        : Tensor();
  if (empty) return {gx, gg};
  if (x.dtype() == DType::Float64)
    gs_backward<double>(need_x ? gx.data<double>() : nullptr, need_grid ? gg.data<double>() : nullptr,
                        g.data<double>(), x.data<double>(), grid.data<double>(), d, padding, align, nearest);
  else
    gs_backward<float>(need_x ? gx.data<float>() : nullptr, need_grid ? gg.data<float>() : nullptr, g.data<float>(),
                       x.data<float>(), grid.data<float>(), d, padding, align, nearest);
  return {gx, gg};
}

}  // namespace dlcore
