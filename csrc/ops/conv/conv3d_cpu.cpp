// CPU conv3d: front-end checks, the vol2col + GEMM path (every dtype and shape) and the dispatch to the direct
// float32 kernel (conv3d_direct_*.cpp). See conv3d.h for the formulas and the algorithms.
//
// vol2col + GEMM, per sample n, group g and block of output depths [o0, o0 + cnt):
//   col set: col[(c R + r) S + s][j][p Q + q] = x[n, g Cg + c, id(j), p sh - pt + r dh, q sw - pl + s dw] for the
//   block's input depth slices id(j) (zero outside the input). With unit depth stride one set holds the slices
//   o0 - pd0 .. o0 + cnt - 1 - pd0 + (T-1) dd, and depth tap t of output depth o reads slice j = o - o0 + t dd: the
//   tap's rows are the set's rows shifted by t dd P Q columns. With a depth stride each tap t gets its own set of
//   the cnt slices o sd - pd0 + t dd.
//   forward:      y[n, g, o0.., :] (Kg x cnt PQ) = w[g] (Kg x Cg T R S) @ B + bias, B row (c, t, r, s) = col row
//                 (c, r, s) of tap t's set, shifted (one gemm_rows call; the rows are read in place).
//   input grad:   col_t (CRS x cnt PQ) += w_t[g]^T (CRS x Kg) @ gy[n, g, o0..] for every tap t (into the shifted
//                 rows), then col2vol adds every set back into gx.
//   weight grad:  gwT[g, t] (CRS x Kg) += col_t (CRS x cnt PQ) @ gyT (cnt PQ x Kg), gyT = gy[n, g] transposed once
//                 per sample and group; gw = gwT transposed at the end.
// A block holds as many output depths as keep its col sets within kColBudget bytes (at least one).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/conv/conv.h"
#include "ops/conv/conv3d.h"
#include "ops/gemm/gemm.h"

namespace dlcore {

Conv3dDirectTable& conv3d_direct_table() {
  static Conv3dDirectTable t = [] {
    Conv3dDirectTable r;
    const int s = (int)cpu_isa_supported();
    if (s >= (int)Isa::AVX2) conv3d_direct_avx2::register_kernels(r);
    if (s >= (int)Isa::AVX512) conv3d_direct_avx512::register_kernels(r);
    return r;
  }();
  return t;
}

namespace {
std::atomic<int> g_algo3{0};
}
void conv3d_set_algorithm(int a) { g_algo3.store(a, std::memory_order_relaxed); }
int conv3d_algorithm() { return g_algo3.load(std::memory_order_relaxed); }

namespace {

constexpr int64_t kColBudget = 4 << 20;

template <class T>
T* scratch3(std::size_t n, int slot) {
  thread_local std::vector<T> bufs[3];
  auto& b = bufs[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}

// Output columns [q_lo, q_hi) whose input column q sw - pl + s dw lies in [0, W).
inline void q_range(const Conv3dParams& p, int64_t s, int64_t& q_lo, int64_t& q_hi) {
  const int64_t off = s * p.dw - p.pl;
  q_lo = off >= 0 ? 0 : (-off + p.sw - 1) / p.sw;
  q_hi = (p.W - 1 - off) < 0 ? 0 : (p.W - 1 - off) / p.sw + 1;
  q_lo = std::min(q_lo, p.Q);
  q_hi = std::max(q_lo, std::min(q_hi, p.Q));
}

// col [Cg R S][nsl][P Q] for the input slices id0 + j step (j < nsl) of xg [Cg][D][H][W] (one sample, one group).
template <class T>
void vol2col(const T* xg, const Conv3dParams& p, int64_t id0, int64_t step, int64_t nsl, T* col) {
  const int64_t PQ = p.P * p.Q, HW = p.H * p.W, ld = nsl * PQ;
  parallel_for(0, p.Cg() * nsl, 4, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t c = i / nsl, j = i % nsl, id = id0 + j * step;
      const bool inside = id >= 0 && id < p.D;
      const T* xs = inside ? xg + (c * p.D + id) * HW : nullptr;
      for (int64_t r = 0; r < p.R; ++r)
        for (int64_t s = 0; s < p.S; ++s) {
          T* dst = col + ((c * p.R + r) * p.S + s) * ld + j * PQ;
          if (!inside) {
            std::fill(dst, dst + PQ, T(0));
            continue;
          }
          int64_t q_lo, q_hi;
          q_range(p, s, q_lo, q_hi);
          const int64_t off = s * p.dw - p.pl;
          for (int64_t oh = 0; oh < p.P; ++oh, dst += p.Q) {
            const int64_t ih = oh * p.sh - p.pt + r * p.dh;
            if (ih < 0 || ih >= p.H) {
              std::fill(dst, dst + p.Q, T(0));
              continue;
            }
            const T* src = xs + ih * p.W + off;
            std::fill(dst, dst + q_lo, T(0));
            if (p.sw == 1) std::memcpy(dst + q_lo, src + q_lo, (std::size_t)(q_hi - q_lo) * sizeof(T));
            else
              for (int64_t q = q_lo; q < q_hi; ++q) dst[q] = src[q * p.sw];
            std::fill(dst + q_hi, dst + p.Q, T(0));
          }
        }
    }
  });
}

// gxg [Cg][D][H][W] += the adjoint of vol2col (same arguments). Distinct slices j hit distinct input slices.
template <class T>
void col2vol_add(const T* col, T* gxg, const Conv3dParams& p, int64_t id0, int64_t step, int64_t nsl) {
  const int64_t PQ = p.P * p.Q, HW = p.H * p.W, ld = nsl * PQ;
  parallel_for(0, p.Cg(), 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t j = 0; j < nsl; ++j) {
        const int64_t id = id0 + j * step;
        if (id < 0 || id >= p.D) continue;
        T* gs = gxg + (c * p.D + id) * HW;
        for (int64_t r = 0; r < p.R; ++r)
          for (int64_t s = 0; s < p.S; ++s) {
            const T* src = col + ((c * p.R + r) * p.S + s) * ld + j * PQ;
            int64_t q_lo, q_hi;
            q_range(p, s, q_lo, q_hi);
            const int64_t off = s * p.dw - p.pl;
            for (int64_t oh = 0; oh < p.P; ++oh, src += p.Q) {
              const int64_t ih = oh * p.sh - p.pt + r * p.dh;
              if (ih < 0 || ih >= p.H) continue;
              T* d = gs + ih * p.W + off;
              if (p.sw == 1)
                for (int64_t q = q_lo; q < q_hi; ++q) d[q] += src[q];
              else
                for (int64_t q = q_lo; q < q_hi; ++q) d[q * p.sw] += src[q];
            }
          }
      }
  });
}

// The col sets of one block of output depths [o0, o0 + cnt).
struct ColBlock {
  int64_t nsets, nsl, set_size;  // sets, slices per set, values per set (CRS nsl PQ)
  int64_t step;                  // set i: slices id0[i] + j step
  std::vector<int64_t> id0;
  std::vector<int64_t> set_of, col_off;  // tap t: its set and its column offset within that set
  void plan(const Conv3dParams& p, int64_t o0, int64_t cnt) {
    const int64_t PQ = p.P * p.Q, CRS = p.Cg() * p.R * p.S;
    id0.assign((std::size_t)p.T, 0);
    set_of.assign((std::size_t)p.T, 0);
    col_off.assign((std::size_t)p.T, 0);
    if (p.sd == 1) {
      nsets = 1;
      nsl = cnt + (p.T - 1) * p.dd;
      id0[0] = o0 - p.pd0;
      step = 1;
      for (int64_t t = 0; t < p.T; ++t) {
        set_of[t] = 0;
        col_off[t] = t * p.dd * PQ;
      }
    } else {
      nsets = p.T;
      nsl = cnt;
      step = p.sd;
      for (int64_t t = 0; t < p.T; ++t) {
        id0[t] = o0 * p.sd - p.pd0 + t * p.dd;
        set_of[t] = t;
        col_off[t] = 0;
      }
    }
    set_size = CRS * nsl * PQ;
  }
};

// Output depths per block: the col sets within kColBudget bytes.
template <class T>
int64_t block_depths(const Conv3dParams& p) {
  const int64_t slice = p.Cg() * p.R * p.S * p.P * p.Q * (int64_t)sizeof(T);
  const int64_t fit = std::max<int64_t>(1, kColBudget / std::max<int64_t>(slice, 1));
  int64_t cnt = p.sd == 1 ? fit - (p.T - 1) * p.dd : fit / p.T;
  cnt = std::max<int64_t>(1, std::min(cnt, p.O));
  const int64_t blocks = (p.O + cnt - 1) / cnt;
  return (p.O + blocks - 1) / blocks;
}

// fn(tid, n0, n1): the batch split over the threads when N >= threads, else one call (GEMMs use the pool).
template <class F>
void over_batch3(int64_t N, const F& fn) {
  const int nt = get_num_threads();
  if (nt > 1 && N >= nt && !in_parallel_region()) {
    parallel_run(nt, [&](int tid, int nthr) { fn(tid, N * tid / nthr, N * (tid + 1) / nthr); });
  } else {
    fn(0, 0, N);
  }
}

template <class T>
void forward_gemm(T* y, const T* x, const T* w, const T* b, const Conv3dParams& p) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), PQ = p.P * p.Q, OPQ = p.O * PQ, DHW = p.D * p.H * p.W;
  const int64_t RS = p.R * p.S, CRS = Cg * RS, TCRS = CRS * p.T, bd = block_depths<T>(p);
  over_batch3(p.N, [&](int, int64_t n0, int64_t n1) {
    std::vector<const T*> rows((std::size_t)TCRS);
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < p.G; ++g) {
        const T* xg = x + (n * p.C + g * Cg) * DHW;
        T* yg = y + (n * p.K + g * Kg) * OPQ;
        GemmEpilogue<T> ep;
        if (b) {
          ep.bias = b + g * Kg;
          ep.bias_kind = BiasKind::PerRow;
        }
        for (int64_t o0 = 0; o0 < p.O; o0 += bd) {
          const int64_t cnt = std::min(bd, p.O - o0);
          ColBlock cb;
          cb.plan(p, o0, cnt);
          T* col = scratch3<T>((std::size_t)(cb.nsets * cb.set_size), 0);
          for (int64_t i = 0; i < cb.nsets; ++i) vol2col(xg, p, cb.id0[i], cb.step, cb.nsl, col + i * cb.set_size);
          const int64_t ld = cb.nsl * PQ;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t t = 0; t < p.T; ++t)
              for (int64_t rs = 0; rs < RS; ++rs)
                rows[(c * p.T + t) * RS + rs] = col + cb.set_of[t] * cb.set_size + (c * RS + rs) * ld + cb.col_off[t];
          gemm_rows<T>(Kg, cnt * PQ, TCRS, T(1), w + g * Kg * TCRS, TCRS, 1, rows.data(), 0, T(0), yg + o0 * PQ, OPQ,
                       1, ep);
        }
      }
  });
}

template <class T>
void backward_input_gemm(T* gx, const T* gy, const T* w, const Conv3dParams& p) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), PQ = p.P * p.Q, OPQ = p.O * PQ, DHW = p.D * p.H * p.W;
  const int64_t RS = p.R * p.S, CRS = Cg * RS, TCRS = CRS * p.T, bd = block_depths<T>(p);
  // wT[g][t][crs][k] = w[g Kg + k][c][t][r][s]
  std::vector<T> wT((std::size_t)(p.K * TCRS));
  for (int64_t g = 0; g < p.G; ++g)
    for (int64_t k = 0; k < Kg; ++k)
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t t = 0; t < p.T; ++t)
          for (int64_t rs = 0; rs < RS; ++rs)
            wT[((g * p.T + t) * CRS + c * RS + rs) * Kg + k] = w[(g * Kg + k) * TCRS + (c * p.T + t) * RS + rs];
  over_batch3(p.N, [&](int, int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < p.G; ++g) {
        T* gxg = gx + (n * p.C + g * Cg) * DHW;
        const T* gyg = gy + (n * p.K + g * Kg) * OPQ;
        std::fill(gxg, gxg + Cg * DHW, T(0));
        for (int64_t o0 = 0; o0 < p.O; o0 += bd) {
          const int64_t cnt = std::min(bd, p.O - o0);
          ColBlock cb;
          cb.plan(p, o0, cnt);
          T* col = scratch3<T>((std::size_t)(cb.nsets * cb.set_size), 0);
          std::fill(col, col + cb.nsets * cb.set_size, T(0));
          const int64_t ld = cb.nsl * PQ;
          for (int64_t t = 0; t < p.T; ++t)
            gemm<T>(CRS, cnt * PQ, Kg, T(1), wT.data() + (g * p.T + t) * CRS * Kg, Kg, 1, gyg + o0 * PQ, OPQ, 1, T(1),
                    col + cb.set_of[t] * cb.set_size + cb.col_off[t], ld, 1);
          for (int64_t i = 0; i < cb.nsets; ++i)
            col2vol_add(col + i * cb.set_size, gxg, p, cb.id0[i], cb.step, cb.nsl);
        }
      }
  });
}

template <class T>
void bias_grad3(T* gb, const T* gy, const Conv3dParams& p) {
  const int64_t OPQ = p.O * p.P * p.Q;
  parallel_for(0, p.K, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double acc = 0;
      for (int64_t n = 0; n < p.N; ++n) {
        const T* src = gy + (n * p.K + k) * OPQ;
        T s[16] = {};
        int64_t i = 0;
        for (; i + 16 <= OPQ; i += 16)
          for (int j = 0; j < 16; ++j) s[j] += src[i + j];
        for (int h = 8; h >= 1; h /= 2)
          for (int j = 0; j < h; ++j) s[j] += s[j + h];
        for (; i < OPQ; ++i) s[0] += src[i];
        acc += (double)s[0];
      }
      gb[k] = (T)acc;
    }
  });
}

template <class T>
void backward_weight_gemm(T* gw, const T* gy, const T* x, const Conv3dParams& p) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), PQ = p.P * p.Q, OPQ = p.O * PQ, DHW = p.D * p.H * p.W;
  const int64_t RS = p.R * p.S, CRS = Cg * RS, TCRS = CRS * p.T, bd = block_depths<T>(p);
  const int64_t wsize = p.K * TCRS;  // gwT [G][T][CRS][Kg]
  const int nt = get_num_threads();
  const bool split = nt > 1 && p.N >= nt && !in_parallel_region();
  std::vector<T> parts((std::size_t)((split ? nt : 1) * wsize), T(0));
  over_batch3(p.N, [&](int tid, int64_t n0, int64_t n1) {
    T* acc = parts.data() + (std::size_t)tid * wsize;
    T* gyT = scratch3<T>((std::size_t)(OPQ * Kg), 1);
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < p.G; ++g) {
        const T* xg = x + (n * p.C + g * Cg) * DHW;
        const T* gyg = gy + (n * p.K + g * Kg) * OPQ;
        // gyT [OPQ][Kg], in tiles of 64 pixels (reads of Kg rows, writes of contiguous rows)
        for (int64_t i0 = 0; i0 < OPQ; i0 += 64) {
          const int64_t i1 = std::min(OPQ, i0 + 64);
          for (int64_t k = 0; k < Kg; ++k)
            for (int64_t i = i0; i < i1; ++i) gyT[i * Kg + k] = gyg[k * OPQ + i];
        }
        for (int64_t o0 = 0; o0 < p.O; o0 += bd) {
          const int64_t cnt = std::min(bd, p.O - o0);
          ColBlock cb;
          cb.plan(p, o0, cnt);
          T* col = scratch3<T>((std::size_t)(cb.nsets * cb.set_size), 0);
          for (int64_t i = 0; i < cb.nsets; ++i) vol2col(xg, p, cb.id0[i], cb.step, cb.nsl, col + i * cb.set_size);
          const int64_t ld = cb.nsl * PQ;
          for (int64_t t = 0; t < p.T; ++t)
            gemm<T>(CRS, Kg, cnt * PQ, T(1), col + cb.set_of[t] * cb.set_size + cb.col_off[t], ld, 1,
                    gyT + o0 * PQ * Kg, Kg, 1, T(1), acc + (g * p.T + t) * CRS * Kg, Kg, 1);
        }
      }
  });
  const int nparts = split ? nt : 1;
  for (int64_t g = 0; g < p.G; ++g)
    for (int64_t t = 0; t < p.T; ++t)
      for (int64_t crs = 0; crs < CRS; ++crs) {
        const int64_t c = crs / RS, rs = crs % RS;
        for (int64_t k = 0; k < Kg; ++k) {
          const std::size_t src = (std::size_t)(((g * p.T + t) * CRS + crs) * Kg + k);
          T v = parts[src];
          for (int i = 1; i < nparts; ++i) v += parts[(std::size_t)i * wsize + src];
          gw[(g * Kg + k) * TCRS + (c * p.T + t) * RS + rs] = v;
        }
      }
}

// 1x1x1 kernels with unit strides and no padding: x[n, g] (Cg x DHW) is the GEMM operand itself (no padded copy, no
// vol2col): y[n, g] = w[g] x[n, g] (+ bias), gx[n, g] = w[g]^T gy[n, g], gw[g] = sum_n gy[n, g] x[n, g]^T.
bool is_pointwise3(const Conv3dParams& p) {
  return p.T == 1 && p.R == 1 && p.S == 1 && p.sd == 1 && p.sh == 1 && p.sw == 1 && p.pd0 == 0 && p.pd1 == 0 &&
         p.pt == 0 && p.pb == 0 && p.pl == 0 && p.pr == 0;
}

template <class T>
void forward_pointwise(T* y, const T* x, const T* w, const T* b, const Conv3dParams& p) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), L = p.D * p.H * p.W;
  over_batch3(p.N, [&](int, int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < p.G; ++g) {
        GemmEpilogue<T> ep;
        if (b) {
          ep.bias = b + g * Kg;
          ep.bias_kind = BiasKind::PerRow;
        }
        gemm<T>(Kg, L, Cg, T(1), w + g * Kg * Cg, Cg, 1, x + (n * p.C + g * Cg) * L, L, 1, T(0),
                y + (n * p.K + g * Kg) * L, L, 1, ep);
      }
  });
}

template <class T>
void backward_input_pointwise(T* gx, const T* gy, const T* w, const Conv3dParams& p) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), L = p.D * p.H * p.W;
  over_batch3(p.N, [&](int, int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < p.G; ++g)
        gemm<T>(Cg, L, Kg, T(1), w + g * Kg * Cg, 1, Cg, gy + (n * p.K + g * Kg) * L, L, 1, T(0),
                gx + (n * p.C + g * Cg) * L, L, 1);
  });
}

template <class T>
void backward_weight_pointwise(T* gw, const T* gy, const T* x, const Conv3dParams& p) {
  const int64_t Cg = p.Cg(), Kg = p.Kg(), L = p.D * p.H * p.W, wsize = p.K * Cg;
  const int nt = get_num_threads();
  const bool split = nt > 1 && p.N >= nt && !in_parallel_region();
  std::vector<T> parts((std::size_t)((split ? nt - 1 : 0) * wsize), T(0));
  over_batch3(p.N, [&](int tid, int64_t n0, int64_t n1) {
    T* acc = tid == 0 ? gw : parts.data() + (std::size_t)(tid - 1) * wsize;
    if (n0 == n1) std::fill(acc, acc + wsize, T(0));
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t g = 0; g < p.G; ++g)
        gemm<T>(Kg, Cg, L, T(1), gy + (n * p.K + g * Kg) * L, L, 1, x + (n * p.C + g * Cg) * L, 1, L,
                n == n0 ? T(0) : T(1), acc + g * Kg * Cg, Cg, 1);
  });
  for (int t = 1; split && t < nt; ++t) {
    const T* src = parts.data() + (std::size_t)(t - 1) * wsize;
    for (int64_t i = 0; i < wsize; ++i) gw[i] += src[i];
  }
}

// The direct kernel for p (float32) when it applies and its lanes are used well: the ISA entry (the active one or
// a narrower one, e.g. AVX2's 8 lanes for 8-column rows on an AVX-512 core) that wastes the fewest lanes, if it
// wastes under a quarter.
Conv3dDirectFn* direct_kernel(const Conv3dParams& p) {
  if (conv3d_algorithm() != 0 || p.Q < 1) return nullptr;
  const Conv3dDirectTable& tab = conv3d_direct_table();
  Conv3dDirectFn* best = nullptr;
  double best_eff = 0.75;
  for (int i = (int)cpu_isa(); i >= 0; --i) {
    if (!tab.forward.fn[i] || tab.vl[i] <= 0) continue;
    const int64_t vl = tab.vl[i];
    const double eff = (double)p.Q / (double)((p.Q + vl - 1) / vl * vl);
    if (eff > best_eff + 1e-9) {
      best_eff = eff;
      best = tab.forward.fn[i];
    }
  }
  return best;
}

// The direct weight-gradient kernel for p (float32): output channels in the lanes, so the ISA entry whose lanes the
// group's Kg output channels fill best, if they fill at least three quarters.
Conv3dDirectWeightFn* direct_weight_kernel(const Conv3dParams& p) {
  if (conv3d_algorithm() != 0) return nullptr;
  const Conv3dDirectTable& tab = conv3d_direct_table();
  Conv3dDirectWeightFn* best = nullptr;
  double best_eff = 0.74;
  for (int i = (int)cpu_isa(); i >= 0; --i) {
    if (!tab.weight.fn[i] || tab.vl[i] <= 0) continue;
    const int64_t vl = tab.vl[i];
    const double eff = (double)p.Kg() / (double)((p.Kg() + vl - 1) / vl * vl);
    if (eff > best_eff + 1e-9) {
      best_eff = eff;
      best = tab.weight.fn[i];
    }
  }
  return best;
}

// The input gradient as a forward correlation (unit strides, padding within the kernel's extent): the parameters
// of that correlation, or false.
bool flipped_params(const Conv3dParams& p, Conv3dParams& q) {
  if (p.sd != 1 || p.sh != 1 || p.sw != 1) return false;
  const int64_t ed = (p.T - 1) * p.dd, eh = (p.R - 1) * p.dh, ew = (p.S - 1) * p.dw;
  if (p.pd0 > ed || p.pd1 > ed || p.pt > eh || p.pb > eh || p.pl > ew || p.pr > ew) return false;
  q = p;
  q.C = p.K; q.D = p.O; q.H = p.P; q.W = p.Q;
  q.K = p.C;
  q.pd0 = ed - p.pd0; q.pd1 = ed - p.pd1; q.pt = eh - p.pt; q.pb = eh - p.pb; q.pl = ew - p.pl; q.pr = ew - p.pr;
  q.O = p.D; q.P = p.H; q.Q = p.W;
  return true;
}

void forward_dispatch(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const Conv3dParams& p) {
  if (is_pointwise3(p)) {
    return dispatch_float(y.dtype(), "conv3d", [&](auto tag) {
      using T = typename decltype(tag)::type;
      forward_pointwise<T>(y.data<T>(), x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, p);
    });
  }
  if (y.dtype() == DType::Float32) {
    if (Conv3dDirectFn* fn = direct_kernel(p)) {
      fn(y.data<float>(), x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, p);
      return;
    }
  }
  dispatch_float(y.dtype(), "conv3d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    forward_gemm<T>(y.data<T>(), x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, p);
  });
}

void backward_input_dispatch(const Tensor& gx, const Tensor& gy, const Tensor& w, const Conv3dParams& p) {
  if (is_pointwise3(p)) {
    return dispatch_float(gx.dtype(), "conv3d_backward_input", [&](auto tag) {
      using T = typename decltype(tag)::type;
      backward_input_pointwise<T>(gx.data<T>(), gy.data<T>(), w.data<T>(), p);
    });
  }
  Conv3dParams q;
  if (gx.dtype() == DType::Float32 && flipped_params(p, q)) {
    if (Conv3dDirectFn* fn = direct_kernel(q)) {
      // wf[g Cg + c][k][t][r][s] = w[g Kg + k][c][T-1-t][R-1-r][S-1-s]
      const int64_t Cg = p.Cg(), Kg = p.Kg(), TRS = p.T * p.R * p.S;
      std::vector<float> wf((std::size_t)(p.C * Kg * TRS));
      const float* wd = w.data<float>();
      for (int64_t g = 0; g < p.G; ++g)
        for (int64_t c = 0; c < Cg; ++c)
          for (int64_t k = 0; k < Kg; ++k) {
            float* dst = wf.data() + ((g * Cg + c) * Kg + k) * TRS;
            const float* src = wd + ((g * Kg + k) * Cg + c) * TRS;
            for (int64_t i = 0; i < TRS; ++i) dst[i] = src[TRS - 1 - i];
          }
      fn(gx.data<float>(), gy.data<float>(), wf.data(), nullptr, q);
      return;
    }
  }
  dispatch_float(gx.dtype(), "conv3d_backward_input", [&](auto tag) {
    using T = typename decltype(tag)::type;
    backward_input_gemm<T>(gx.data<T>(), gy.data<T>(), w.data<T>(), p);
  });
}

void check_cpu_float(const char* op, const Tensor& t, const char* what) {
  conv_check_float(op, t, what);
  DLCORE_CHECK(t.device().type == DeviceType::CPU, RuntimeError, op, ": this kernel runs on the cpu device, got ",
               what, " ", t.describe());
}

IntList out_shape(const Conv3dParams& p) { return IntList{p.N, p.K, p.O, p.P, p.Q}; }

}  // namespace

Conv3dParams conv3d_params(const char* op, const IntList& xs, const IntList& ws, const Conv3dArgs& a) {
  DLCORE_CHECK(xs.size() == 5, ValueError, op, ": expected a 5-D input [N, C, D, H, W], got shape ", xs.str());
  DLCORE_CHECK(ws.size() == 5, ValueError, op, ": expected a 5-D weight [out_channels, in_channels/groups, kD, kH, "
               "kW], got shape ", ws.str());
  DLCORE_CHECK(a.groups >= 1, ValueError, op, ": groups must be a positive integer, got ", a.groups);
  for (int i = 0; i < 3; ++i) {
    DLCORE_CHECK(a.stride[i] >= 1, ValueError, op, ": stride must be positive, got (", a.stride[0], ", ",
                 a.stride[1], ", ", a.stride[2], ")");
    DLCORE_CHECK(a.dilation[i] >= 1, ValueError, op, ": dilation must be positive, got (", a.dilation[0], ", ",
                 a.dilation[1], ", ", a.dilation[2], ")");
  }
  for (int i = 0; i < 6; ++i)
    DLCORE_CHECK(a.padding[i] >= 0, ValueError, op, ": padding must be non-negative, got (", a.padding[0], ", ",
                 a.padding[1], ", ", a.padding[2], ", ", a.padding[3], ", ", a.padding[4], ", ", a.padding[5], ")");
  for (int i = 0; i < 5; ++i)
    DLCORE_CHECK(xs[i] >= 0 && ws[i] >= 0, ValueError, op, ": negative size in input shape ", xs.str(),
                 " or weight shape ", ws.str());
  Conv3dParams p;
  p.N = xs[0]; p.C = xs[1]; p.D = xs[2]; p.H = xs[3]; p.W = xs[4];
  p.K = ws[0]; p.T = ws[2]; p.R = ws[3]; p.S = ws[4];
  p.G = a.groups;
  DLCORE_CHECK(p.K >= 1 && p.T >= 1 && p.R >= 1 && p.S >= 1, ValueError, op, ": weight shape ", ws.str(),
               " has an empty dimension");
  DLCORE_CHECK(p.C % p.G == 0, ValueError, op, ": in_channels (", p.C, ") must be divisible by groups (", p.G, ")");
  DLCORE_CHECK(p.K % p.G == 0, ValueError, op, ": out_channels (", p.K, ") must be divisible by groups (", p.G, ")");
  DLCORE_CHECK(ws[1] * p.G == p.C, ValueError, op, ": weight shape ", ws.str(), " expects ", ws[1] * p.G,
               " input channels (", ws[1], " per group x ", p.G, " groups), but the input shape ", xs.str(), " has ",
               p.C);
  p.sd = a.stride[0]; p.sh = a.stride[1]; p.sw = a.stride[2];
  p.dd = a.dilation[0]; p.dh = a.dilation[1]; p.dw = a.dilation[2];
  p.pd0 = a.padding[0]; p.pd1 = a.padding[1]; p.pt = a.padding[2]; p.pb = a.padding[3];
  p.pl = a.padding[4]; p.pr = a.padding[5];
  const int64_t sp_d = p.dd * (p.T - 1) + 1, sp_h = p.dh * (p.R - 1) + 1, sp_w = p.dw * (p.S - 1) + 1;
  DLCORE_CHECK(p.D + p.pd0 + p.pd1 >= sp_d && p.H + p.pt + p.pb >= sp_h && p.W + p.pl + p.pr >= sp_w, ValueError, op,
               ": kernel size (", p.T, ", ", p.R, ", ", p.S, ") with dilation (", p.dd, ", ", p.dh, ", ", p.dw,
               ") spans (", sp_d, ", ", sp_h, ", ", sp_w, "), larger than the padded input (", p.D + p.pd0 + p.pd1,
               ", ", p.H + p.pt + p.pb, ", ", p.W + p.pl + p.pr, ") of input shape ", xs.str());
  p.O = (p.D + p.pd0 + p.pd1 - sp_d) / p.sd + 1;
  p.P = (p.H + p.pt + p.pb - sp_h) / p.sh + 1;
  p.Q = (p.W + p.pl + p.pr - sp_w) / p.sw + 1;
  return p;
}

Tensor conv3d_cpu(const Tensor& x, const Tensor& w, const Tensor* b, const Conv3dArgs& a, const char* op) {
  check_cpu_float(op, x, "input");
  conv_check_same(op, "weight", x, "input", w);
  Conv3dParams p = conv3d_params(op, x.shape(), w.shape(), a);
  if (b) {
    conv_check_same(op, "bias", x, "input", *b);
    DLCORE_CHECK(b->dim() == 1 && b->size(0) == p.K, ValueError, op, ": bias shape ", b->shape().str(),
                 " does not match out_channels [", p.K, "]");
  }
  Tensor y = Tensor::empty(out_shape(p), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  if (p.C == 0) {  // empty reduction: the bias alone
    y.fill(0.0);
    if (b) y.copy_from(b->view(IntList{1, p.K, 1, 1, 1}));
    return y;
  }
  Tensor bc;
  if (b) bc = b->contiguous();
  forward_dispatch(y, x.contiguous(), w.contiguous(), b ? &bc : nullptr, p);
  return y;
}

Tensor conv3d_backward_input_cpu(const Tensor& gy, const Tensor& w, const IntList& x_shape, const Conv3dArgs& a,
                                 const char* op) {
  check_cpu_float(op, gy, "grad_output");
  conv_check_same(op, "weight", gy, "grad_output", w);
  Conv3dParams p = conv3d_params(op, x_shape, w.shape(), a);
  DLCORE_CHECK(gy.shape() == out_shape(p), ValueError, op, ": grad_output shape ", gy.shape().str(),
               " does not match the output shape ", out_shape(p).str());
  Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.device());
  if (gx.numel() == 0) return gx;
  if (gy.numel() == 0) {
    gx.fill(0.0);
    return gx;
  }
  backward_input_dispatch(gx, gy.contiguous(), w.contiguous(), p);
  return gx;
}

void conv3d_backward_weight_cpu(const Tensor& gy, const Tensor& x, const IntList& w_shape, const Conv3dArgs& a,
                                bool want_w, bool want_b, Tensor& gw, Tensor& gb, const char* op) {
  check_cpu_float(op, gy, "grad_output");
  conv_check_same(op, "input", gy, "grad_output", x);
  Conv3dParams p = conv3d_params(op, x.shape(), w_shape, a);
  DLCORE_CHECK(gy.shape() == out_shape(p), ValueError, op, ": grad_output shape ", gy.shape().str(),
               " does not match the output shape ", out_shape(p).str());
  gw = want_w ? Tensor::empty(w_shape, gy.dtype(), gy.device()) : Tensor();
  gb = want_b ? Tensor::empty(IntList{p.K}, gy.dtype(), gy.device()) : Tensor();
  if (want_w) gw.fill(0.0);
  if (want_b) gb.fill(0.0);
  if (gy.numel() == 0) return;
  const Tensor gyc = gy.contiguous();
  dispatch_float(gy.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (want_w && p.C > 0) {
      const Tensor xc = x.contiguous();
      Conv3dDirectWeightFn* fn = nullptr;
      if constexpr (sizeof(T) == 4) fn = direct_weight_kernel(p);
      if (is_pointwise3(p)) backward_weight_pointwise<T>(gw.data<T>(), gyc.data<T>(), xc.data<T>(), p);
      else if (fn) fn((float*)gw.data<T>(), (const float*)gyc.data<T>(), (const float*)xc.data<T>(), p);
      else backward_weight_gemm<T>(gw.data<T>(), gyc.data<T>(), xc.data<T>(), p);
    }
    if (want_b) bias_grad3<T>(gb.data<T>(), gyc.data<T>(), p);
  });
}

}  // namespace dlcore
