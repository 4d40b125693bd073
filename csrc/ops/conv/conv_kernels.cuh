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
// Tiles (all three kernels): a block of 256 threads computes a BM x BN = 64 x 64 tile of C with BK = 8 reduction
// steps per stage; each thread holds a 4 x 4 register block at rows tm + 16 i and columns tn + 16 j (tm = tid % 16,
// tn = tid / 16), so neighbouring threads own neighbouring m and the output stores coalesce. Two shared-memory stages:
// the next stage's global loads are issued into registers before the current stage's FMAs (one barrier per stage).
// Edge tiles: loads outside [0, M) x [0, Kred) or [0, Kred) x [0, Nn) read zero, stores outside are skipped, so any
// size works (including M, Nn, Kred < one tile).
// Index arithmetic: int64 for global offsets (tensors above 2^31 elements), int for in-tile positions.
//
// TODO(cuda-gemm): 1x1 stride-1 unpadded convolutions should call gemm_cuda<T>() (csrc/ops/gemm/gemm_cuda.h, branch
// cuda-gemm) once it is on main; until then they run through these implicit-GEMM kernels (whose im2col index is then
// the identity).
#pragma once
#include <algorithm>

#include "cuda/cuda_kernel.cuh"
#include "ops/conv/conv.h"

namespace dlcore::conv_cuda {

constexpr int kBM = 64, kBN = 64, kBK = 8, kTM = 4, kTN = 4;
constexpr int kThreads = (kBM / kTM) * (kBN / kTN);  // 256
constexpr int kRowsPerPass = kThreads / kBM;         // A loads with m fastest: 4 kk rows per pass
static_assert(kThreads == 256 && kBK * kBM == 2 * kThreads && kBK * kBN == 2 * kThreads, "tile loaders assume this");

// The plain-int copy of ConvParams the kernels take (by value: one struct argument).
struct ConvGeom {
  int64_t N, C, H, W, K, R, S, G, sh, sw, dh, dw, pt, pl, P, Q;
};
inline ConvGeom conv_geom(const ConvParams& p) {
  return {p.N, p.C, p.H, p.W, p.K, p.R, p.S, p.G, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl, p.P, p.Q};
}

// acc += As[stage] (BK x BM) ^T * Bs[stage] (BK x BN) for this thread's 4 x 4 block.
template <class T>
__device__ __forceinline__ void tile_fma(const T (*As)[kBM], const T (*Bs)[kBN], T (&acc)[kTM][kTN], int tm, int tn) {
  DLCORE_UNROLL
  for (int kk = 0; kk < kBK; ++kk) {
    T a[kTM], b[kTN];
    DLCORE_UNROLL
    for (int i = 0; i < kTM; ++i) a[i] = As[kk][tm + 16 * i];
    DLCORE_UNROLL
    for (int j = 0; j < kTN; ++j) b[j] = Bs[kk][tn + 16 * j];
    DLCORE_UNROLL
    for (int i = 0; i < kTM; ++i) {
      DLCORE_UNROLL
      for (int j = 0; j < kTN; ++j) acc[i][j] += a[i] * b[j];
    }
  }
}

template <class T>
__device__ __forceinline__ void zero_acc(T (&acc)[kTM][kTN]) {
  DLCORE_UNROLL
  for (int i = 0; i < kTM; ++i) {
    DLCORE_UNROLL
    for (int j = 0; j < kTN; ++j) acc[i][j] = T(0);
  }
}

// ------------------------------------------------------------------------------------------------ forward

// A (im2col of x) loader state of one thread: fixed output position m, two kk rows per stage.
template <class T>
struct FwdALoader {
  const T* base;  // x[img, g*Cg] (null when m is outside [0, M))
  int64_t ih0, iw0;
  __device__ __forceinline__ T load(const ConvGeom& p, int64_t CRS, int64_t RS, int64_t kk) const {
    if (!base || kk >= CRS) return T(0);
    int64_t c = kk / RS, rs = kk - c * RS;
    int64_t r = rs / p.S, s = rs - r * p.S;
    int64_t ih = ih0 + r * p.dh, iw = iw0 + s * p.dw;
    if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) return T(0);
    return base[(c * p.H + ih) * p.W + iw];
  }
};

template <class T>
__global__ void __launch_bounds__(kThreads) conv_fwd_kernel(T* __restrict__ y, const T* __restrict__ x,
                                                             const T* __restrict__ w, const T* __restrict__ bias,
                                                             ConvGeom p) {
  __shared__ T As[2][kBK][kBM];
  __shared__ T Bs[2][kBK][kBN];
  const int tid = threadIdx.x, tm = tid % 16, tn = tid / 16;
  const int64_t Cg = p.C / p.G, Kg = p.K / p.G, RS = p.R * p.S, CRS = Cg * RS, PQ = p.P * p.Q, M = p.N * PQ;
  const int64_t tiles_m = (M + kBM - 1) / kBM, tiles_n = (Kg + kBN - 1) / kBN;
  const int a_m = tid % kBM, a_k = tid / kBM;  // A loads: m fastest (coalesced along q)
  const int b_k = tid % kBK, b_n = tid / kBK;  // B loads: kk fastest (w rows are contiguous in kk)
  for (int64_t g = blockIdx.z; g < p.G; g += gridDim.z)
    for (int64_t tn_i = blockIdx.y; tn_i < tiles_n; tn_i += gridDim.y)
      for (int64_t tm_i = blockIdx.x; tm_i < tiles_m; tm_i += gridDim.x) {
        const int64_t m0 = tm_i * kBM, n0 = tn_i * kBN;
        FwdALoader<T> la{nullptr, 0, 0};
        {
          int64_t m = m0 + a_m;
          if (m < M) {
            int64_t img = m / PQ, pq = m - img * PQ, pp = pq / p.Q, qq = pq - pp * p.Q;
            la.base = x + (img * p.C + g * Cg) * p.H * p.W;
            la.ih0 = pp * p.sh - p.pt;
            la.iw0 = qq * p.sw - p.pl;
          }
        }
        const T* wg = w + g * Kg * CRS;
        auto load_b = [&](int64_t kk, int64_t n) -> T {
          return (kk < CRS && n < Kg) ? wg[n * CRS + kk] : T(0);
        };
        T ra[2], rb[2];
        auto fetch = [&](int64_t k0) {
          DLCORE_UNROLL
          for (int e = 0; e < 2; ++e) {
            ra[e] = la.load(p, CRS, RS, k0 + a_k + kRowsPerPass * e);
            rb[e] = load_b(k0 + b_k, n0 + b_n + (kThreads / kBK) * e);
          }
        };
        auto stash = [&](int st) {
          DLCORE_UNROLL
          for (int e = 0; e < 2; ++e) {
            As[st][a_k + kRowsPerPass * e][a_m] = ra[e];
            Bs[st][b_k][b_n + (kThreads / kBK) * e] = rb[e];
          }
        };
        T acc[kTM][kTN];
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
        for (int i = 0; i < kTM; ++i) {
          int64_t m = m0 + tm + 16 * i;
          if (m >= M) continue;
          int64_t img = m / PQ, pq = m - img * PQ;
          DLCORE_UNROLL
          for (int j = 0; j < kTN; ++j) {
            int64_t n = n0 + tn + 16 * j;
            if (n >= Kg) continue;
            int64_t k = g * Kg + n;
            y[(img * p.K + k) * PQ + pq] = bias ? acc[i][j] + bias[k] : acc[i][j];
          }
        }
      }
}

// ------------------------------------------------------------------------------------------------ input gradient

template <class T>
__global__ void __launch_bounds__(kThreads) conv_bwd_input_kernel(T* __restrict__ gx, const T* __restrict__ gy,
                                                                   const T* __restrict__ w, ConvGeom p) {
  __shared__ T As[2][kBK][kBM];
  __shared__ T Bs[2][kBK][kBN];
  const int tid = threadIdx.x, tm = tid % 16, tn = tid / 16;
  const int64_t Cg = p.C / p.G, Kg = p.K / p.G, RS = p.R * p.S, CRS = Cg * RS, KRS = Kg * RS;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, M = p.N * HW;
  const int64_t tiles_m = (M + kBM - 1) / kBM, tiles_n = (Cg + kBN - 1) / kBN;
  const int a_m = tid % kBM, a_k = tid / kBM;
  const int b_k = tid % kBK, b_n = tid / kBK;
  for (int64_t g = blockIdx.z; g < p.G; g += gridDim.z)
    for (int64_t tn_i = blockIdx.y; tn_i < tiles_n; tn_i += gridDim.y)
      for (int64_t tm_i = blockIdx.x; tm_i < tiles_m; tm_i += gridDim.x) {
        const int64_t m0 = tm_i * kBM, n0 = tn_i * kBN;
        // this thread's input pixel (img, i, j); gyb = gy[img, g*Kg]
        // (tap arithmetic in int: spatial sizes and R*S are far below 2^31; keeps the float64 build from spilling)
        const T* gyb = nullptr;
        int hi = 0, wj = 0;
        const int iRS = (int)RS, iS = (int)p.S, idh = (int)p.dh, idw = (int)p.dw, ish = (int)p.sh, isw = (int)p.sw;
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
        auto load_a = [&](int64_t kk) -> T {
          if (!gyb || kk >= KRS) return T(0);
          int64_t k = kk / iRS;
          int rs = (int)(kk - k * iRS);
          int r = rs / iS, s = rs - r * iS;
          int nh = hi - r * idh, nw = wj - s * idw;
          if (nh < 0 || nw < 0) return T(0);
          int pp = nh / ish, qq = nw / isw;
          if (pp * ish != nh || qq * isw != nw || pp >= iP || qq >= iQ) return T(0);
          return gyb[k * PQ + pp * iQ + qq];
        };
        const T* wg = w + g * Kg * CRS;
        auto load_b = [&](int64_t kk, int64_t c) -> T {
          if (kk >= KRS || c >= Cg) return T(0);
          int64_t k = kk / RS, rs = kk - k * RS;
          return wg[k * CRS + c * RS + rs];
        };
        T ra[2], rb[2];
        auto fetch = [&](int64_t k0) {
          DLCORE_UNROLL
          for (int e = 0; e < 2; ++e) {
            ra[e] = load_a(k0 + a_k + kRowsPerPass * e);
            rb[e] = load_b(k0 + b_k, n0 + b_n + (kThreads / kBK) * e);
          }
        };
        auto stash = [&](int st) {
          DLCORE_UNROLL
          for (int e = 0; e < 2; ++e) {
            As[st][a_k + kRowsPerPass * e][a_m] = ra[e];
            Bs[st][b_k][b_n + (kThreads / kBK) * e] = rb[e];
          }
        };
        T acc[kTM][kTN];
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
        for (int i = 0; i < kTM; ++i) {
          int64_t m = m0 + tm + 16 * i;
          if (m >= M) continue;
          int64_t img = m / HW, ij = m - img * HW;
          DLCORE_UNROLL
          for (int j = 0; j < kTN; ++j) {
            int64_t c = n0 + tn + 16 * j;
            if (c < Cg) gx[(img * p.C + g * Cg + c) * HW + ij] = acc[i][j];
          }
        }
      }
}

// ------------------------------------------------------------------------------------------------ weight gradient

// out[z * K*CRS + (g*Kg + k) * CRS + kk] = sum over l in split z of gy[img, g*Kg + k, pq] * im2col(x)[l, kk];
// split z covers l in [z * chunk, min(L, (z + 1) * chunk)) (chunk a multiple of kBK).
template <class T>
__global__ void __launch_bounds__(kThreads) conv_bwd_weight_kernel(T* __restrict__ out, const T* __restrict__ gy,
                                                                    const T* __restrict__ x, ConvGeom p,
                                                                    int64_t chunk, int64_t splits) {
  __shared__ T As[2][kBK][kBM];
  __shared__ T Bs[2][kBK][kBN];
  const int tid = threadIdx.x, tm = tid % 16, tn = tid / 16;
  const int64_t Cg = p.C / p.G, Kg = p.K / p.G, RS = p.R * p.S, CRS = Cg * RS;
  const int64_t HW = p.H * p.W, PQ = p.P * p.Q, L = p.N * PQ;
  const int64_t tiles_m = (Kg + kBM - 1) / kBM, tiles_n = (CRS + kBN - 1) / kBN, tiles = tiles_m * tiles_n;
  const int ld_l = tid % kBK, ld_r = tid / kBK;  // both loaders: l fastest (8 neighbouring output positions)
  for (int64_t g = blockIdx.z; g < p.G; g += gridDim.z)
    for (int64_t z = blockIdx.y; z < splits; z += gridDim.y)
      for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
        const int64_t m0 = (t % tiles_m) * kBM, n0 = (t / tiles_m) * kBN;
        const int64_t l_begin = z * chunk, l_end = l_begin + chunk < L ? l_begin + chunk : L;
        // the two kk columns this thread loads: (c, r, s) as an input-channel offset and tap offsets
        int64_t xoff[2], roff[2], soff[2];
        bool kk_ok[2];
        DLCORE_UNROLL
        for (int e = 0; e < 2; ++e) {
          int64_t kk = n0 + ld_r + (kThreads / kBK) * e;
          kk_ok[e] = kk < CRS;
          int64_t c = kk / RS, rs = kk - c * RS, r = rs / p.S, s = rs - r * p.S;
          xoff[e] = (g * Cg + c) * HW;
          roff[e] = r * p.dh - p.pt;
          soff[e] = s * p.dw - p.pl;
        }
        T ra[2], rb[2];
        auto fetch = [&](int64_t l0) {
          int64_t l = l0 + ld_l;
          bool ok = l < l_end;
          int64_t img = 0, pp = 0, qq = 0, pq = 0;
          if (ok) {
            img = l / PQ;
            pq = l - img * PQ;
            pp = pq / p.Q;
            qq = pq - pp * p.Q;
          }
          DLCORE_UNROLL
          for (int e = 0; e < 2; ++e) {
            int64_t k = m0 + ld_r + (kThreads / kBK) * e;
            ra[e] = (ok && k < Kg) ? gy[(img * p.K + g * Kg + k) * PQ + pq] : T(0);
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
          for (int e = 0; e < 2; ++e) {
            As[st][ld_l][ld_r + (kThreads / kBK) * e] = ra[e];
            Bs[st][ld_l][ld_r + (kThreads / kBK) * e] = rb[e];
          }
        };
        T acc[kTM][kTN];
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
        for (int i = 0; i < kTM; ++i) {
          int64_t k = m0 + tm + 16 * i;
          if (k >= Kg) continue;
          DLCORE_UNROLL
          for (int j = 0; j < kTN; ++j) {
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

template <class T>
void forward_launch(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& cp) {
  ConvGeom p = conv_geom(cp);
  const int64_t M = p.N * p.P * p.Q, Kg = p.K / p.G;
  dim3 grid(grid_dim((M + kBM - 1) / kBM, 1 << 30), grid_dim((Kg + kBN - 1) / kBN, 65535), grid_dim(p.G, 65535));
  auto* k = &conv_fwd_kernel<T>;
  DLCORE_LAUNCH(k, grid, kThreads, 0, cuda::current_stream())
  (y.data<T>(), x.data<T>(), w.data<T>(), b ? b->data<T>() : nullptr, p);
}

template <class T>
void backward_input_launch(const Tensor& gx, const Tensor& gy, const Tensor& w, const ConvParams& cp) {
  ConvGeom p = conv_geom(cp);
  const int64_t M = p.N * p.H * p.W, Cg = p.C / p.G;
  dim3 grid(grid_dim((M + kBM - 1) / kBM, 1 << 30), grid_dim((Cg + kBN - 1) / kBN, 65535), grid_dim(p.G, 65535));
  auto* k = &conv_bwd_input_kernel<T>;
  DLCORE_LAUNCH(k, grid, kThreads, 0, cuda::current_stream())(gx.data<T>(), gy.data<T>(), w.data<T>(), p);
}

// Split-K choice for the weight gradient: enough blocks to fill a large GPU (~1024), at least 256 reduction steps per
// split, and at most 2^25 workspace elements.
inline int64_t weight_grad_splits(const ConvGeom& p) {
  const int64_t Kg = p.K / p.G, CRS = (p.C / p.G) * p.R * p.S, L = p.N * p.P * p.Q;
  const int64_t tiles = ((Kg + kBM - 1) / kBM) * ((CRS + kBN - 1) / kBN) * p.G;
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
    int64_t splits = weight_grad_splits(p);
    int64_t chunk = (L + splits - 1) / splits;
    chunk = (chunk + kBK - 1) / kBK * kBK;
    splits = (L + chunk - 1) / chunk;  // no empty split
    Tensor ws;
    T* out = gw->data<T>();
    if (splits > 1) {
      ws = Tensor::empty(IntList{splits * p.K * CRS}, gw->dtype(), gw->device());
      out = ws.data<T>();
    }
    const int64_t tiles = ((Kg + kBM - 1) / kBM) * ((CRS + kBN - 1) / kBN);
    dim3 grid(grid_dim(tiles, 1 << 30), grid_dim(splits, 65535), grid_dim(p.G, 65535));
    auto* k = &conv_bwd_weight_kernel<T>;
    DLCORE_LAUNCH(k, grid, kThreads, 0, s)(out, gy.data<T>(), x.data<T>(), p, chunk, splits);
    if (splits > 1) {
      auto* r = &sum_splits_kernel<T>;
      const int64_t n = p.K * CRS;
      DLCORE_LAUNCH(r, cuda::blocks_for(n, 256), 256, 0, s)(gw->data<T>(), (const T*)ws.data<T>(), n, splits);
    }
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
