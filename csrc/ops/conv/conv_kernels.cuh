// CUDA convolution kernels: conv2d forward, input gradient and weight gradient as implicit GEMM (the formulas and
// letters of conv.h). No im2col buffer: the tile loaders compute the im2col index of every element they fetch.
//
//   forward       C[m, n] = sum_kk A[m, kk] B[kk, n]   m = (img, p, q) over N*P*Q, n = k over Kg, kk = (c, r, s)
//                 A = im2col(x) (zero outside the input), B[kk, n] = w[g*Kg + n, kk]; y = C + b
//   input grad    m = (img, i, j) over N*H*W, n = c over Cg, kk = (k, r, s) over Kg*R*S
//                 A[m, kk] = gy[img, g*Kg + k, p, q] where i = p*sh - pt + r*dh and j = q*sw - pl + s*dw
//                 (zero when no such integer (p, q) in range), B[kk, n] = w[g*Kg + k, n, r, s]
//                 (the "gather over output positions" form: every gx element is written once, no col2im, no atomics)
//   weight grad   m = k over Kg, n = kk = (c, r, s) over Cg*R*S, reduction l = (img, p, q) over N*P*Q
//                 A[m, l] = gy[img, g*Kg + m, p, q], B[l, n] = im2col(x)[l, n]
//                 Split-K over l for parallelism: split z writes its partial sums to a workspace slice
//                 [z, K, CgRS]; a second kernel adds the slices in a fixed order. Deterministic (no float atomics),
//                 at the cost of splits * K*CgRS * sizeof(T) of workspace.
// One group per grid.z (grid-stride), so grouped and depthwise convolutions run as G independent GEMMs.
//
// Tiles (all three kernels): a block of 256 threads computes a BM x BN tile of C (64 or 128 each, chosen per problem
// size in the launchers) with BK = 8 reduction steps per stage; each thread holds a BM/16 x BN/16 register block
// (4x4 .. 8x8) at rows tm + 16 i and columns tn + 16 j (tm = tid % 16, tn = tid / 16), so neighbouring threads own
// neighbouring m and the output stores coalesce. Two shared-memory stages:
// the next stage's global loads are issued into registers before the current stage's FMAs (one barrier per stage).
// Edge tiles: loads outside [0, M) x [0, Kred) or [0, Kred) x [0, Nn) read zero, stores outside are skipped, so any
// size works (including M, Nn, Kred < one tile).
// Index arithmetic: int64 for global offsets (tensors above 2^31 elements), int for in-tile positions; the loaders
// step their im2col digits with carries (TapIter) instead of dividing per element.
// Precision: float32 FFMA (no TF32), float64 DFMA; sums in kk order within a thread, so results are deterministic.
//
// 1x1 stride-1 unpadded convolutions (the bottleneck/projection layers) skip the im2col indexing: forward and input
// gradient are plain GEMMs per image and group, run by the project's CUDA GEMM (gemm_cuda.h; batched over the
// images with strides, TF32 when allowed). Their weight gradient keeps the split-K kernel below (a reduction over
// images that no single strided GEMM expresses).
#pragma once
#include <algorithm>
#include <cstdlib>
#include <string>

#include "cuda/cuda_kernel.cuh"
#include "ops/conv/conv.h"
#include "ops/gemm/gemm_cuda.h"

namespace dlcore::conv_cuda {

// Block tile BM x BN (template parameters: 64 or 128 each), BK reduction steps per stage, 256 threads as 16 x 16;
// a thread holds TM x TN = BM/16 x BN/16 accumulators. Each thread loads LA = BM*BK/256 elements of A and
// LB = BN*BK/256 of B per stage.
constexpr int kBK = 8;
constexpr int kThreads = 256;
template <int BM, int BN>
struct TileShape {
  static_assert((BM == 64 || BM == 128) && (BN == 64 || BN == 128), "tile loaders assume 64 or 128");
  static constexpr int TM = BM / 16, TN = BN / 16;
  static constexpr int LA = BM * kBK / kThreads, LB = BN * kBK / kThreads;
  static constexpr int RP = kThreads / BM;  // A loads with m fastest: RP kk rows per pass
};

// The plain-int copy of ConvParams the kernels take (by value: one struct argument).
struct ConvGeom {
  int64_t N, C, H, W, K, R, S, G, sh, sw, dh, dw, pt, pl, P, Q;
};
inline ConvGeom conv_geom(const ConvParams& p) {
  return {p.N, p.C, p.H, p.W, p.K, p.R, p.S, p.G, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl, p.P, p.Q};
}

// acc += As[stage] (BK x BM) ^T * Bs[stage] (BK x BN) for this thread's TM x TN block.
template <class T, int BM, int BN, int TM, int TN>
__device__ __forceinline__ void tile_fma(const T (*As)[BM], const T (*Bs)[BN], T (&acc)[TM][TN], int tm, int tn) {
  DLCORE_UNROLL
  for (int kk = 0; kk < kBK; ++kk) {
    T a[TM], b[TN];
    DLCORE_UNROLL
    for (int i = 0; i < TM; ++i) a[i] = As[kk][tm + 16 * i];
    DLCORE_UNROLL
    for (int j = 0; j < TN; ++j) b[j] = Bs[kk][tn + 16 * j];
    DLCORE_UNROLL
    for (int i = 0; i < TM; ++i) {
      DLCORE_UNROLL
      for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
  }
}

template <class T, int TM, int TN>
__device__ __forceinline__ void zero_acc(T (&acc)[TM][TN]) {
  DLCORE_UNROLL
  for (int i = 0; i < TM; ++i) {
    DLCORE_UNROLL
    for (int j = 0; j < TN; ++j) acc[i][j] = T(0);
  }
}

// ------------------------------------------------------------------------------------------------ forward

// The digits (c, r, s) of an index kk = (c*R + r)*S + s in the mixed radix (., R, S), stepped by kBK per stage with
// carries instead of divisions (the loaders' index arithmetic would otherwise cost two 64-bit divisions per element).
// Also used for the output position l = (img*P + p)*Q + q of the weight gradient (radix (., P, Q)).
struct TapStep {
  int64_t c;
  int r, s;
  static TapStep make(int64_t R, int64_t S) {  // kBK in the radix
    return {kBK / (R * S), (int)((kBK / S) % R), (int)(kBK % S)};
  }
};
struct TapIter {
  int64_t c;
  int r, s;
  __device__ __forceinline__ void init(int64_t kk, int64_t R, int64_t S) {
    c = kk / (R * S);
    int rs = (int)(kk - c * R * S);
    r = rs / (int)S;
    s = rs - r * (int)S;
  }
  __device__ __forceinline__ void advance(const TapStep& d, int R, int S) {
    s += d.s;
    if (s >= S) {
      s -= S;
      ++r;
    }
    r += d.r;  // r <= 2R - 1 here: one subtraction restores it
    if (r >= R) {
      r -= R;
      ++c;
    }
    c += d.c;
  }
};

template <class T, int BM, int BN>
__global__ void __launch_bounds__(kThreads) conv_fwd_kernel(T* __restrict__ y, const T* __restrict__ x,
                                                             const T* __restrict__ w, const T* __restrict__ bias,
                                                             ConvGeom p, TapStep step) {
  constexpr int TM = TileShape<BM, BN>::TM, TN = TileShape<BM, BN>::TN, LA = TileShape<BM, BN>::LA,
                LB = TileShape<BM, BN>::LB, RP = TileShape<BM, BN>::RP;
  __shared__ T As[2][kBK][BM];
  __shared__ T Bs[2][kBK][BN];
  const int tid = threadIdx.x, tm = tid % 16, tn = tid / 16;
  const int64_t Cg = p.C / p.G, Kg = p.K / p.G, RS = p.R * p.S, CRS = Cg * RS, PQ = p.P * p.Q, M = p.N * PQ;
  const int64_t tiles_m = (M + BM - 1) / BM, tiles_n = (Kg + BN - 1) / BN;
  const int a_m = tid % BM, a_k = tid / BM;  // A loads: m fastest (coalesced along q)
  const int b_k = tid % kBK, b_n = tid / kBK;  // B loads: kk fastest (w rows are contiguous in kk)
  for (int64_t g = blockIdx.z; g < p.G; g += gridDim.z)
    for (int64_t tn_i = blockIdx.y; tn_i < tiles_n; tn_i += gridDim.y)
      for (int64_t tm_i = blockIdx.x; tm_i < tiles_m; tm_i += gridDim.x) {
        const int64_t m0 = tm_i * BM, n0 = tn_i * BN;
        // A (im2col of x): this thread's output position m is fixed; its LA rows kk = a_k + RP*e (+ k0) step by kBK
        const T* xb = nullptr;  // x[img, g*Cg] (null when m is outside [0, M))
        int64_t ih0 = 0, iw0 = 0;
        {
          int64_t m = m0 + a_m;
          if (m < M) {
            int64_t img = m / PQ, pq = m - img * PQ, pp = pq / p.Q, qq = pq - pp * p.Q;
            xb = x + (img * p.C + g * Cg) * p.H * p.W;
            ih0 = pp * p.sh - p.pt;
            iw0 = qq * p.sw - p.pl;
          }
        }
        TapIter ta[LA];
        DLCORE_UNROLL
        for (int e = 0; e < LA; ++e) ta[e].init(a_k + RP * e, p.R, p.S);
        const int iR = (int)p.R, iS = (int)p.S;
        auto load_a = [&](const TapIter& it) -> T {
          if (!xb || it.c >= Cg) return T(0);
          int64_t ih = ih0 + it.r * p.dh, iw = iw0 + it.s * p.dw;
          if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) return T(0);
          return xb[(it.c * p.H + ih) * p.W + iw];
        };
        const T* wg = w + g * Kg * CRS;
        auto load_b = [&](int64_t kk, int64_t n) -> T {
          return (kk < CRS && n < Kg) ? wg[n * CRS + kk] : T(0);
        };
        T ra[LA], rb[LB];
        auto fetch = [&](int64_t k0) {
          DLCORE_UNROLL
          for (int e = 0; e < LA; ++e) {
            ra[e] = load_a(ta[e]);
            ta[e].advance(step, iR, iS);
          }
          DLCORE_UNROLL
          for (int e = 0; e < LB; ++e) rb[e] = load_b(k0 + b_k, n0 + b_n + (kThreads / kBK) * e);
        };
        auto stash = [&](int st) {
          DLCORE_UNROLL
          for (int e = 0; e < LA; ++e) As[st][a_k + RP * e][a_m] = ra[e];
          DLCORE_UNROLL
          for (int e = 0; e < LB; ++e) Bs[st][b_k][b_n + (kThreads / kBK) * e] = rb[e];
        };
        T acc[TM][TN];
        zero_acc(acc);
        fetch(0);
        stash(0);
        __syncthreads();
        int st = 0;
        for (int64_t k0 = 0; k0 < CRS; k0 += kBK) {
          const bool more = k0 + kBK < CRS;
          if (more) fetch(k0 + kBK);
          tile_fma(As[st], Bs[st], acc, tm, tn);
          if (more) stash(st ^ 1);
          __syncthreads();  // the next stage is stored; this stage is no longer read before the next overwrite
          st ^= 1;
        }
        DLCORE_UNROLL
        for (int i = 0; i < TM; ++i) {
          int64_t m = m0 + tm + 16 * i;
          if (m >= M) continue;
          int64_t img = m / PQ, pq = m - img * PQ;
          DLCORE_UNROLL
          for (int j = 0; j < TN; ++j) {
            int64_t n = n0 + tn + 16 * j;
            if (n >= Kg) continue;
            int64_t k = g * Kg + n;
            y[(img * p.K + k) * PQ + pq] = bias ? acc[i][j] + bias[k] : acc[i][j];
          }
        }
      }
}

// ------------------------------------------------------------------------------------------------ input gradient

template <class T, int BM, int BN>
__global__ void __launch_bounds__(kThreads) conv_bwd_input_kernel(T* __restrict__ gx, const T* __restrict__ gy,
                                                                   const T* __restrict__ w, ConvGeom p,
                                                                   TapStep step) {
  constexpr int TM = TileShape<BM, BN>::TM, TN = TileShape<BM, BN>::TN, LA = TileShape<BM, BN>::LA,
                LB = TileShape<BM, BN>::LB, RP = TileShape<BM, BN>::RP;
  __shared__ T As[2][kBK][BM];
  __shared__ T Bs[2][kBK][BN];
  const int tid = threadIdx.x, tm = tid % 16, tn = tid / 16;
  const int64_t Cg = p.C / p.G, Kg = p.K / p.G, RS = p.R * p.S, CRS = Cg * RS, KRS = Kg * RS;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, M = p.N * HW;
  const int64_t tiles_m = (M + BM - 1) / BM, tiles_n = (Cg + BN - 1) / BN;
  const int a_m = tid % BM, a_k = tid / BM;
  const int b_k = tid % kBK, b_n = tid / kBK;
  for (int64_t g = blockIdx.z; g < p.G; g += gridDim.z)
    for (int64_t tn_i = blockIdx.y; tn_i < tiles_n; tn_i += gridDim.y)
      for (int64_t tm_i = blockIdx.x; tm_i < tiles_m; tm_i += gridDim.x) {
        const int64_t m0 = tm_i * BM, n0 = tn_i * BN;
        // this thread's input pixel (img, i, j); gyb = gy[img, g*Kg]
        // (tap arithmetic in int: spatial sizes and R*S are far below 2^31; keeps the float64 build from spilling)
        const T* gyb = nullptr;
        int hi = 0, wj = 0;
        const int iR = (int)p.R, iS = (int)p.S, idh = (int)p.dh, idw = (int)p.dw, ish = (int)p.sh, isw = (int)p.sw;
        const int iP = (int)p.P, iQ = (int)p.Q;
        {
          int64_t m = m0 + a_m;
          if (m < M) {
            int64_t img = m / HW, ij = m - img * HW;
            hi = (int)(ij / p.W + p.pt);  // i + pt = p*sh + r*dh
            wj = (int)(ij - (ij / p.W) * p.W + p.pl);
            gyb = gy + (img * p.K + g * Kg) * PQ;
          }
        }
        // kk = (k, r, s) digits: LA rows of A per thread, one row of B (kk = k0 + b_k); each steps by kBK per stage
        TapIter ta[LA], tb;
        DLCORE_UNROLL
        for (int e = 0; e < LA; ++e) ta[e].init(a_k + RP * e, p.R, p.S);
        tb.init(b_k, p.R, p.S);
        auto load_a = [&](const TapIter& it) -> T {
          if (!gyb || it.c >= Kg) return T(0);
          int nh = hi - it.r * idh, nw = wj - it.s * idw;
          if (nh < 0 || nw < 0) return T(0);
          int pp = nh / ish, qq = nw / isw;
          if (pp * ish != nh || qq * isw != nw || pp >= iP || qq >= iQ) return T(0);
          return gyb[it.c * PQ + pp * iQ + qq];
        };
        const T* wg = w + g * Kg * CRS;
        auto load_b = [&](int64_t c) -> T {
          if (tb.c >= Kg || c >= Cg) return T(0);
          return wg[tb.c * CRS + c * RS + tb.r * iS + tb.s];
        };
        T ra[LA], rb[LB];
        auto fetch = [&](int64_t) {
          DLCORE_UNROLL
          for (int e = 0; e < LA; ++e) {
            ra[e] = load_a(ta[e]);
            ta[e].advance(step, iR, iS);
          }
          DLCORE_UNROLL
          for (int e = 0; e < LB; ++e) rb[e] = load_b(n0 + b_n + (kThreads / kBK) * e);
          tb.advance(step, iR, iS);
        };
        auto stash = [&](int st) {
          DLCORE_UNROLL
          for (int e = 0; e < LA; ++e) As[st][a_k + RP * e][a_m] = ra[e];
          DLCORE_UNROLL
          for (int e = 0; e < LB; ++e) Bs[st][b_k][b_n + (kThreads / kBK) * e] = rb[e];
        };
        T acc[TM][TN];
        zero_acc(acc);
        fetch(0);
        stash(0);
        __syncthreads();
        int st = 0;
        for (int64_t k0 = 0; k0 < KRS; k0 += kBK) {
          const bool more = k0 + kBK < KRS;
          if (more) fetch(k0 + kBK);
          tile_fma(As[st], Bs[st], acc, tm, tn);
          if (more) stash(st ^ 1);
          __syncthreads();
          st ^= 1;
        }
        DLCORE_UNROLL
        for (int i = 0; i < TM; ++i) {
          int64_t m = m0 + tm + 16 * i;
          if (m >= M) continue;
          int64_t img = m / HW, ij = m - img * HW;
          DLCORE_UNROLL
          for (int j = 0; j < TN; ++j) {
            int64_t c = n0 + tn + 16 * j;
            if (c < Cg) gx[(img * p.C + g * Cg + c) * HW + ij] = acc[i][j];
          }
        }
      }
}

// ------------------------------------------------------------------------------------------------ weight gradient

// out[z * K*CRS + (g*Kg + k) * CRS + kk] = sum over l in split z of gy[img, g*Kg + k, pq] * im2col(x)[l, kk];
// split z covers l in [z * chunk, min(L, (z + 1) * chunk)) (chunk a multiple of kBK).
template <class T, int BM, int BN>
__global__ void __launch_bounds__(kThreads) conv_bwd_weight_kernel(T* __restrict__ out, const T* __restrict__ gy,
                                                                    const T* __restrict__ x, ConvGeom p,
                                                                    int64_t chunk, int64_t splits, TapStep step) {
  constexpr int TM = TileShape<BM, BN>::TM, TN = TileShape<BM, BN>::TN, LA = TileShape<BM, BN>::LA,
                LB = TileShape<BM, BN>::LB;
  __shared__ T As[2][kBK][BM];
  __shared__ T Bs[2][kBK][BN];
  const int tid = threadIdx.x, tm = tid % 16, tn = tid / 16;
  const int64_t Cg = p.C / p.G, Kg = p.K / p.G, RS = p.R * p.S, CRS = Cg * RS;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, L = p.N * PQ;
  const int64_t tiles_m = (Kg + BM - 1) / BM, tiles_n = (CRS + BN - 1) / BN, tiles = tiles_m * tiles_n;
  const int ld_l = tid % kBK, ld_r = tid / kBK;  // both loaders: l fastest (8 neighbouring output positions)
  for (int64_t g = blockIdx.z; g < p.G; g += gridDim.z)
    for (int64_t z = blockIdx.y; z < splits; z += gridDim.y)
      for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
        const int64_t m0 = (t % tiles_m) * BM, n0 = (t / tiles_m) * BN;
        const int64_t l_begin = z * chunk, l_end = l_begin + chunk < L ? l_begin + chunk : L;
        // the two kk columns this thread loads: (c, r, s) as an input-channel offset and tap offsets
        int64_t xoff[LB], roff[LB], soff[LB];
        bool kk_ok[LB];
        DLCORE_UNROLL
        for (int e = 0; e < LB; ++e) {
          int64_t kk = n0 + ld_r + (kThreads / kBK) * e;
          kk_ok[e] = kk < CRS;
          int64_t c = kk / RS, rs = kk - c * RS, r = rs / p.S, s = rs - r * p.S;
          xoff[e] = (g * Cg + c) * HW;
          roff[e] = r * p.dh - p.pt;
          soff[e] = s * p.dw - p.pl;
        }
        T ra[LA], rb[LB];
        // l = (img, p, q) digits of this thread's output position, stepped by kBK per stage (step: radix (P, Q))
        TapIter tl;
        tl.init(l_begin + ld_l, p.P, p.Q);
        const int iP = (int)p.P, iQ = (int)p.Q;
        auto fetch = [&](int64_t l0) {
          int64_t l = l0 + ld_l;
          bool ok = l < l_end;
          int64_t img = tl.c, pp = tl.r, qq = tl.s, pq = pp * p.Q + qq;
          tl.advance(step, iP, iQ);
          DLCORE_UNROLL
          for (int e = 0; e < LA; ++e) {
            int64_t k = m0 + ld_r + (kThreads / kBK) * e;
            ra[e] = (ok && k < Kg) ? gy[(img * p.K + g * Kg + k) * PQ + pq] : T(0);
          }
          DLCORE_UNROLL
          for (int e = 0; e < LB; ++e) {
            T v = T(0);
            if (ok && kk_ok[e]) {
              int64_t ih = pp * p.sh + roff[e], iw = qq * p.sw + soff[e];
              if (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) v = x[img * p.C * HW + xoff[e] + ih * p.W + iw];
            }
            rb[e] = v;
          }
        };
        auto stash = [&](int st) {
          DLCORE_UNROLL
          for (int e = 0; e < LA; ++e) As[st][ld_l][ld_r + (kThreads / kBK) * e] = ra[e];
          DLCORE_UNROLL
          for (int e = 0; e < LB; ++e) Bs[st][ld_l][ld_r + (kThreads / kBK) * e] = rb[e];
        };
        T acc[TM][TN];
        zero_acc(acc);
        fetch(l_begin);
        stash(0);
        __syncthreads();
        int st = 0;
        for (int64_t l0 = l_begin; l0 < l_end; l0 += kBK) {
          const bool more = l0 + kBK < l_end;
          if (more) fetch(l0 + kBK);
          tile_fma(As[st], Bs[st], acc, tm, tn);
          if (more) stash(st ^ 1);
          __syncthreads();
          st ^= 1;
        }
        T* o = out + z * p.K * CRS + g * Kg * CRS;
        DLCORE_UNROLL
        for (int i = 0; i < TM; ++i) {
          int64_t k = m0 + tm + 16 * i;
          if (k >= Kg) continue;
          DLCORE_UNROLL
          for (int j = 0; j < TN; ++j) {
            int64_t kk = n0 + tn + 16 * j;
            if (kk < CRS) o[k * CRS + kk] = acc[i][j];
          }
        }
      }
}

// gw[i] = sum_{z < splits} ws[z * n + i], z in increasing order (deterministic).
template <class T>
__global__ void sum_splits_kernel(T* __restrict__ gw, const T* __restrict__ ws, int64_t n, int64_t splits) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    T s = ws[i];
    for (int64_t z = 1; z < splits; ++z) s += ws[z * n + i];
    gw[i] = s;
  }
}

// gb[k] = sum_{img, pq} gy[img, k, pq]: one block per channel (grid-stride), a fixed-shape tree in shared memory.
template <class T>
__global__ void __launch_bounds__(256) conv_bias_grad_kernel(T* __restrict__ gb, const T* __restrict__ gy, int64_t N,
                                                             int64_t K, int64_t PQ) {
  __shared__ T part[256];
  for (int64_t k = blockIdx.x; k < K; k += gridDim.x) {
    T s = T(0);
    for (int64_t img = 0; img < N; ++img) {
      const T* row = gy + (img * K + k) * PQ;
      for (int64_t i = threadIdx.x; i < PQ; i += blockDim.x) s += row[i];
    }
    part[threadIdx.x] = s;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h /= 2) {
      if ((int)threadIdx.x < h) part[threadIdx.x] += part[threadIdx.x + h];
      __syncthreads();
    }
    if (threadIdx.x == 0) gb[k] = part[0];
    __syncthreads();  // part[] is reused for the next channel
  }
}

// ------------------------------------------------------------------------------------------------ launchers

inline unsigned grid_dim(int64_t n, int64_t cap) { return (unsigned)std::max<int64_t>(1, std::min(n, cap)); }

// Tile configurations: 0 = 64x64 (4x4 per thread), 1 = 128x64 (8x4), 2 = 64x128 (4x8), 3 = 128x128 (8x8).
// float32 picks the largest tile that still gives >= 264 blocks (two per SM on a 132-SM H100) for an M x Nn problem
// (times `batch` independent problems: groups, splits); float64 always uses 64x64 (an 8x8 double block spills).
// DLCORE_CONV_CUDA_TILE=64x64|128x64|64x128|128x128 pins a float32 tile (tests cover every configuration with it).
inline int pinned_tile() {
  const char* e = std::getenv("DLCORE_CONV_CUDA_TILE");
  if (!e || !*e) return -1;
  std::string v(e);
  if (v == "64x64") return 0;
  if (v == "128x64") return 1;
  if (v == "64x128") return 2;
  if (v == "128x128") return 3;
  DLCORE_THROW(ValueError, "DLCORE_CONV_CUDA_TILE must be one of 64x64, 128x64, 64x128, 128x128, got '", v, "'");
}

template <class T>
int choose_tile(int64_t M, int64_t Nn, int64_t batch) {
  if (sizeof(T) != 4) return 0;
  int pin = pinned_tile();
  if (pin >= 0) return pin;
  auto blocks = [&](int64_t bm, int64_t bn) { return ((M + bm - 1) / bm) * ((Nn + bn - 1) / bn) * batch; };
  const int64_t enough = 264;
  if (M >= 128 && Nn >= 128 && blocks(128, 128) >= enough) return 3;
  if (M >= 128 && blocks(128, 64) >= enough) return 1;
  if (Nn >= 128 && blocks(64, 128) >= enough) return 2;
  return 0;
}

// Calls fn(TileTag<BM, BN>{}) for configuration cfg (the float64 build instantiates 64x64 only).
template <int BM, int BN>
struct TileTag {
  static constexpr int bm = BM, bn = BN;
};
template <class T, class F>
void with_tile(int cfg, const F& fn) {
  if constexpr (sizeof(T) == 4) {
    if (cfg == 1) return fn(TileTag<128, 64>{});
    if (cfg == 2) return fn(TileTag<64, 128>{});
    if (cfg == 3) return fn(TileTag<128, 128>{});
  }
  fn(TileTag<64, 64>{});
}

// A 1x1 convolution with stride 1 and no padding: y_img = W x_img per group, x_img as a [C, H*W] matrix.
inline bool pointwise_conv(const ConvGeom& p) {
  return p.R == 1 && p.S == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 && p.P == p.H && p.Q == p.W;
}

template <class T>
void forward_launch(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& cp) {
  ConvGeom p = conv_geom(cp);
  if (pointwise_conv(p)) {  // per group g: y[:, g Kg:(g+1) Kg] = w_g [Kg, Cg] @ x[:, g Cg:(g+1) Cg] [Cg, HW]
    const int64_t HW = p.H * p.W, Kg = p.K / p.G, Cg = p.C / p.G;
    for (int64_t g = 0; g < p.G; ++g) {
      GemmEpilogue<T> ep;
      if (b) {
        ep.bias = b->data<T>() + g * Kg;
        ep.bias_kind = BiasKind::PerRow;
      }
      gemm_cuda<T>(Kg, HW, Cg, 1, w.data<T>() + g * Kg * Cg, Cg, 1, x.data<T>() + g * Cg * HW, HW, 1, 0,
                   y.data<T>() + g * Kg * HW, HW, 1, ep, p.N, 0, p.C * HW, p.K * HW, cuda::current_stream());
    }
    return;
  }
  const int64_t M = p.N * p.P * p.Q, Kg = p.K / p.G;
  with_tile<T>(choose_tile<T>(M, Kg, p.G), [&](auto tag) {
    constexpr int BM = decltype(tag)::bm, BN = decltype(tag)::bn;
    dim3 grid(grid_dim((M + BM - 1) / BM, 1 << 30), grid_dim((Kg + BN - 1) / BN, 65535), grid_dim(p.G, 65535));
    auto* k = &conv_fwd_kernel<T, BM, BN>;
    DLCORE_LAUNCH(k, grid, kThreads, 0, cuda::current_stream())
    (y.data<T>(), x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, p, TapStep::make(p.R, p.S));
  });
}

template <class T>
void backward_input_launch(const Tensor& gx, const Tensor& gy, const Tensor& w, const ConvParams& cp) {
  ConvGeom p = conv_geom(cp);
  if (pointwise_conv(p)) {  // per group g: gx[:, g Cg:(g+1) Cg] = w_g^T [Cg, Kg] @ gy[:, g Kg:(g+1) Kg] [Kg, HW]
    const int64_t HW = p.H * p.W, Kg = p.K / p.G, Cg = p.C / p.G;
    for (int64_t g = 0; g < p.G; ++g)
      gemm_cuda<T>(Cg, HW, Kg, 1, w.data<T>() + g * Kg * Cg, 1, Cg, gy.data<T>() + g * Kg * HW, HW, 1, 0,
                   gx.data<T>() + g * Cg * HW, HW, 1, {}, p.N, 0, p.K * HW, p.C * HW, cuda::current_stream());
    return;
  }
  const int64_t M = p.N * p.H * p.W, Cg = p.C / p.G;
  with_tile<T>(choose_tile<T>(M, Cg, p.G), [&](auto tag) {
    constexpr int BM = decltype(tag)::bm, BN = decltype(tag)::bn;
    dim3 grid(grid_dim((M + BM - 1) / BM, 1 << 30), grid_dim((Cg + BN - 1) / BN, 65535), grid_dim(p.G, 65535));
    auto* k = &conv_bwd_input_kernel<T, BM, BN>;
    DLCORE_LAUNCH(k, grid, kThreads, 0, cuda::current_stream())
    (gx.data<T>(), gy.data<T>(), w.data<T>(), p, TapStep::make(p.R, p.S));
  });
}

// Split-K choice for the weight gradient (tile bm x bn): enough blocks to fill a large GPU (~1024), at least 256
// reduction steps per split, and at most 2^25 workspace elements.
inline int64_t weight_grad_splits(const ConvGeom& p, int64_t bm, int64_t bn) {
  const int64_t Kg = p.K / p.G, CRS = (p.C / p.G) * p.R * p.S, L = p.N * p.P * p.Q;
  const int64_t tiles = ((Kg + bm - 1) / bm) * ((CRS + bn - 1) / bn) * p.G;
  int64_t splits = (1024 + tiles - 1) / tiles;
  splits = std::min(splits, (L + 255) / 256);
  splits = std::min(splits, std::max<int64_t>(1, ((int64_t)1 << 25) / std::max<int64_t>(1, p.K * CRS)));
  return std::max<int64_t>(1, std::min<int64_t>(splits, 65535));
}

template <class T>
void backward_weight_launch(const Tensor* gw, const Tensor* gb, const Tensor& gy, const Tensor& x,
                            const ConvParams& cp) {
  ConvGeom p = conv_geom(cp);
  cuda::Stream s = cuda::current_stream();
  const int64_t PQ = p.P * p.Q;
  if (gw) {
    const int64_t Kg = p.K / p.G, CRS = (p.C / p.G) * p.R * p.S, L = p.N * PQ;
    // the tile is chosen as if the reduction were split 8 ways (split-K supplies the rest of the parallelism)
    with_tile<T>(choose_tile<T>(Kg, CRS, p.G * std::min<int64_t>(8, (L + 255) / 256)), [&](auto tag) {
      constexpr int BM = decltype(tag)::bm, BN = decltype(tag)::bn;
      int64_t splits = weight_grad_splits(p, BM, BN);
      int64_t chunk = (L + splits - 1) / splits;
      chunk = (chunk + kBK - 1) / kBK * kBK;
      splits = (L + chunk - 1) / chunk;  // no empty split
      Tensor ws;
      T* out = gw->data<T>();
      if (splits > 1) {
        ws = Tensor::empty(IntList{splits * p.K * CRS}, gw->dtype(), gw->device());
        out = ws.data<T>();
      }
      const int64_t tiles = ((Kg + BM - 1) / BM) * ((CRS + BN - 1) / BN);
      dim3 grid(grid_dim(tiles, 1 << 30), grid_dim(splits, 65535), grid_dim(p.G, 65535));
      auto* k = &conv_bwd_weight_kernel<T, BM, BN>;
      DLCORE_LAUNCH(k, grid, kThreads, 0, s)(out, gy.data<T>(), x.data<T>(), p, chunk, splits, TapStep::make(p.P, p.Q));
      if (splits > 1) {
        auto* r = &sum_splits_kernel<T>;
        const int64_t n = p.K * CRS;
        DLCORE_LAUNCH(r, cuda::blocks_for(n, 256), 256, 0, s)(gw->data<T>(), (const T*)ws.data<T>(), n, splits);
      }
    });
  }
  if (gb) {
    auto* k = &conv_bias_grad_kernel<T>;
    DLCORE_LAUNCH(k, grid_dim(p.K, 65535), 256, 0, s)(gb->data<T>(), gy.data<T>(), p.N, p.K, PQ);
  }
}

// float64 instantiations (conv_f64_cuda.cu: the double-usage gate).
void forward_f64(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p);
void backward_input_f64(const Tensor& gx, const Tensor& gy, const Tensor& w, const ConvParams& p);
void backward_weight_f64(const Tensor* gw, const Tensor* gb, const Tensor& gy, const Tensor& x, const ConvParams& p);

}  // namespace dlcore::conv_cuda
