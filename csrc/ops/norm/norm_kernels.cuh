// CUDA kernels of the norm family (contracts and formulas in norm.h; x is contiguous [N, C, S]).
//
// batch_norm statistics, per channel c over its n = N S values:
//   S > 1:  a deterministic two-level reduction: block (c, q) sums chunk q of channel c's N x S values (P chunks
//           per channel, bn_chunks: ~kTargetBlocks blocks in all, so a few channels still fill the GPU; neighbouring
//           threads read neighbouring addresses within each run of S) into partial[c, q]; then one thread per
//           channel folds its P partials in order. Two passes over x (the mean, then the sum of squared
//           deviations from it: no catastrophic cancellation). No atomics: the result does not depend on timing.
//   S == 1: (N, C) input: one thread per channel walking the rows (neighbouring channels are neighbouring
//           addresses, so the loads coalesce), the same two passes.
//   The thread that finishes a channel writes save_mean/save_invstd and the running stats (ema, unbiased variance).
// batch_norm apply (forward y = x sc + sh; backward gx = A g + B x + K): elementwise, channel = (i / S) % C.
// The backward's per-channel sums (sum g, sum g (x - mean)) use the same layouts (one pass) into a [2, C] scratch.
// local_response_norm: forward one thread per element (window of `size` channels); backward stores
// scale and t = g x scale^(-beta-1) per element first, then one thread per element sums t over its window.
#pragma once
#include "cuda/cuda_kernel.cuh"
#include "ops/norm/norm.h"

namespace dlcore::norm_cuda {

constexpr int kStatThreads = 256;
constexpr int kThreads = 256;

// Sum of v over the block, returned to every thread (red: 32 elements of shared memory).
template <class T>
__device__ __forceinline__ T block_sum(T v, T* red) {
  DLCORE_UNROLL
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = red[0];
  for (int w = 1; w < nwarps; ++w) v += red[w];
  __syncthreads();  // red is reused by the next reduction
  return v;
}

// Writes the statistics of channel c (called by one thread per channel).
template <class T>
__device__ __forceinline__ void bn_store_stats(int64_t c, T mean, T var, int64_t cnt, T* save_mean, T* save_invstd,
                                               T* rm, T* rv, T eps, T momentum) {
  save_mean[c] = mean;
  save_invstd[c] = bn_invstd_t<T>(var, eps);
  if (rm) rm[c] = ema_t<T>(rm[c], mean, momentum);
  if (rv) rv[c] = ema_t<T>(rv[c], bn_unbiased<T>(var, cnt), momentum);
}

// sums[c] = sum g, sums[C + c] = sum g (x - mean_c); gw/gb written when not null.
template <class T>
__device__ __forceinline__ void bn_store_grad_sums(int64_t c, int64_t C, T sg, T sgx, T* sums, T* gw, T* gb,
                                                   const T* invstd) {
  sums[c] = sg;
  sums[C + c] = sgx;
  if (gw) gw[c] = sgx * invstd[c];
  if (gb) gb[c] = sg;
}

// Element e (0 <= e < N S) of channel c: sample e / S, position e % S.
__device__ __forceinline__ int64_t bn_index(int64_t e, int64_t c, int64_t C, int64_t S) {
  return ((e / S) * C + c) * S + e % S;
}

// Block b = (c, q), c = b / P, q = b % P, reduces chunk q of channel c (elements [q chunk, (q + 1) chunk)):
//   MODE 0: sum x;  MODE 1: sum (x - mean_c)^2;  MODE 2: sum g and sum g (x - mean_c) (partial has 2 C P entries:
//   the second half holds the g (x - mean) sums).
// Consecutive threads take consecutive elements (consecutive addresses within each run of S).
template <int MODE, class T>
__global__ void bn_partial_kernel(T* __restrict__ partial, const T* __restrict__ x, const T* __restrict__ g,
                                  const T* __restrict__ mean, int64_t N, int64_t C, int64_t S, int64_t P) {
  __shared__ T red[32];
  const int64_t cnt = N * S, chunk = (cnt + P - 1) / P;
  for (int64_t b = blockIdx.x; b < C * P; b += gridDim.x) {
    int64_t c = b / P, e0 = (b % P) * chunk, e1 = e0 + chunk < cnt ? e0 + chunk : cnt;
    T m = MODE == 0 ? T(0) : mean[c];
    T s = T(0), s2 = T(0);
    for (int64_t e = e0 + threadIdx.x; e < e1; e += blockDim.x) {
      int64_t k = bn_index(e, c, C, S);
      if (MODE == 0) {
        s += x[k];
      } else if (MODE == 1) {
        T d = x[k] - m;
        s += d * d;
      } else {
        T gv = g[k];
        s += gv;
        s2 += gv * (x[k] - m);
      }
    }
    s = block_sum(s, red);
    if (MODE == 2) s2 = block_sum(s2, red);
    if (threadIdx.x == 0) {
      partial[b] = s;
      if (MODE == 2) partial[C * P + b] = s2;
    }
  }
}

// Per channel (one thread each), folding its P partials in order (deterministic):
//   STAGE 0: mean_c -> save_mean;  STAGE 1: the variance -> save_invstd and the running statistics.
template <int STAGE, class T>
__global__ void bn_fold_stats_kernel(T* __restrict__ save_mean, T* __restrict__ save_invstd, T* rm, T* rv,
                                     const T* __restrict__ partial, int64_t cnt, int64_t C, int64_t P, T eps,
                                     T momentum) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += step) {
    T s = T(0);
    for (int64_t q = 0; q < P; ++q) s += partial[c * P + q];
    if (STAGE == 0) save_mean[c] = s / (T)cnt;
    else bn_store_stats(c, save_mean[c], s / (T)cnt, cnt, save_mean, save_invstd, rm, rv, eps, momentum);
  }
}

// Per channel: sum g and sum g (x - mean) from the partials -> sums [2, C] (and gw, gb).
template <class T>
__global__ void bn_fold_grad_kernel(T* __restrict__ sums, T* gw, T* gb, const T* __restrict__ partial,
                                    const T* __restrict__ invstd, int64_t C, int64_t P) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += step) {
    T sg = T(0), sgx = T(0);
    for (int64_t q = 0; q < P; ++q) {
      sg += partial[c * P + q];
      sgx += partial[C * P + c * P + q];
    }
    bn_store_grad_sums(c, C, sg, sgx, sums, gw, gb, invstd);
  }
}

template <class T>
__global__ void bn_stats_cols_kernel(T* __restrict__ save_mean, T* __restrict__ save_invstd, T* rm, T* rv,
                                     const T* __restrict__ x, int64_t N, int64_t C, T eps, T momentum) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += step) {
    T s = T(0);
    for (int64_t n = 0; n < N; ++n) s += x[n * C + c];
    T mean = s / (T)N, q = T(0);
    for (int64_t n = 0; n < N; ++n) {
      T d = x[n * C + c] - mean;
      q += d * d;
    }
    bn_store_stats(c, mean, q / (T)N, N, save_mean, save_invstd, rm, rv, eps, momentum);
  }
}

// Evaluation: the running statistics.
template <class T>
__global__ void bn_eval_stats_kernel(T* __restrict__ save_mean, T* __restrict__ save_invstd, const T* __restrict__ rm,
                                     const T* __restrict__ rv, int64_t C, T eps) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += step) {
    save_mean[c] = rm[c];
    save_invstd[c] = bn_invstd_t<T>(rv[c], eps);
  }
}

// y = x sc_c + sh_c, sc_c = invstd_c w_c, sh_c = b_c - mean_c sc_c (as the CPU loop).
template <class T>
__global__ void bn_apply_kernel(T* __restrict__ y, const T* __restrict__ x, const T* __restrict__ mean,
                                const T* __restrict__ invstd, const T* __restrict__ w, const T* __restrict__ b,
                                int64_t total, int64_t C, int64_t S) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    int64_t c = (i / S) % C;
    T sc = invstd[c] * (w ? w[c] : T(1));
    T sh = (b ? b[c] : T(0)) - mean[c] * sc;
    y[i] = x[i] * sc + sh;
  }
}

template <class T>
__global__ void bn_grad_sums_cols_kernel(T* __restrict__ sums, T* gw, T* gb, const T* __restrict__ g,
                                         const T* __restrict__ x, const T* __restrict__ mean,
                                         const T* __restrict__ invstd, int64_t N, int64_t C) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += step) {
    T m = mean[c], sg = T(0), sgx = T(0);
    for (int64_t n = 0; n < N; ++n) {
      T gv = g[n * C + c];
      sg += gv;
      sgx += gv * (x[n * C + c] - m);
    }
    bn_store_grad_sums(c, C, sg, sgx, sums, gw, gb, invstd);
  }
}

// gx = A g + B x + K with the CPU loop's per-channel coefficients.
template <class T>
__global__ void bn_grad_input_kernel(T* __restrict__ gx, const T* __restrict__ g, const T* __restrict__ x,
                                     const T* __restrict__ w, const T* __restrict__ mean, const T* __restrict__ invstd,
                                     const T* __restrict__ sums, int64_t total, int64_t C, int64_t S, bool training) {
  const T cnt = (T)(total / C);
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    int64_t c = (i / S) % C;
    T is = invstd[c];
    T wi = (w ? w[c] : T(1)) * is;
    T v;
    if (training) {
      T dw = sums[C + c] * is;
      T b = -wi * is * dw / cnt;
      T K = -wi * sums[c] / cnt - b * mean[c];
      v = wi * g[i] + b * x[i] + K;
    } else {
      v = wi * g[i];
    }
    gx[i] = v;
  }
}

// ------------------------------------------------------------------------------------------------ LRN

struct LrnT {
  int64_t lo, hi;  // window of channel c: [c - lo, c + hi]
};

template <class T>
__device__ __forceinline__ T lrn_scale_at(const T* xn, int64_t c, int64_t s, int64_t C, int64_t S, LrnT win, T k,
                                          T coef) {
  int64_t j0 = c - win.lo < 0 ? 0 : c - win.lo, j1 = c + win.hi > C - 1 ? C - 1 : c + win.hi;
  T q = T(0);
  for (int64_t j = j0; j <= j1; ++j) {
    T v = xn[j * S + s];
    q += v * v;
  }
  return lrn_scale_of<T>(q, k, coef);
}

template <class T>
__global__ void lrn_fwd_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t total, int64_t C, int64_t S,
                               LrnT win, T k, T coef, T neg_beta) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    int64_t s = i % S, c = (i / S) % C;
    const T* xn = x + (i / (C * S)) * C * S;
    y[i] = x[i] * std::pow(lrn_scale_at(xn, c, s, C, S, win, k, coef), neg_beta);
  }
}

// sc = scale, t = g x scale^(-beta-1).
template <class T>
__global__ void lrn_bwd_prep_kernel(T* __restrict__ sc, T* __restrict__ t, const T* __restrict__ g,
                                    const T* __restrict__ x, int64_t total, int64_t C, int64_t S, LrnT win, T k, T coef,
                                    T neg_beta_m1) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    int64_t s = i % S, c = (i / S) % C;
    const T* xn = x + (i / (C * S)) * C * S;
    T v = lrn_scale_at(xn, c, s, C, S, win, k, coef);
    sc[i] = v;
    t[i] = g[i] * x[i] * std::pow(v, neg_beta_m1);
  }
}

// gx_c = g_c scale_c^-beta - coef2 x_c sum_{j in [c - hi, c + lo]} t_j.
template <class T>
__global__ void lrn_bwd_kernel(T* __restrict__ gx, const T* __restrict__ g, const T* __restrict__ x,
                               const T* __restrict__ sc, const T* __restrict__ t, int64_t total, int64_t C, int64_t S,
                               LrnT win, T coef2, T neg_beta) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
    int64_t s = i % S, c = (i / S) % C;
    const T* tn = t + (i / (C * S)) * C * S;
    int64_t j0 = c - win.hi < 0 ? 0 : c - win.hi, j1 = c + win.lo > C - 1 ? C - 1 : c + win.lo;
    T acc = T(0);
    for (int64_t j = j0; j <= j1; ++j) acc += tn[j * S + s];
    gx[i] = g[i] * std::pow(sc[i], neg_beta) - coef2 * x[i] * acc;
  }
}

// ------------------------------------------------------------------------------------------------ host launchers

// Chunks per channel for the S > 1 statistics: about kTargetBlocks blocks in all (to fill a large GPU), at
// least kMinChunk elements per chunk.
constexpr int64_t kTargetBlocks = 1024, kMinChunk = 1024;
inline int64_t bn_chunks(int64_t cnt, int64_t C) {
  int64_t by_blocks = (kTargetBlocks + C - 1) / C, by_size = (cnt + kMinChunk - 1) / kMinChunk;
  int64_t p = by_blocks < by_size ? by_blocks : by_size;
  return p < 1 ? 1 : p;
}

template <class T>
inline T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

template <class T>
void bn_fwd_launch(const Tensor& y, const Tensor& sm, const Tensor& si, const Tensor& x, const Tensor& w,
                   const Tensor& b, const Tensor& rm, const Tensor& rv, const BatchNormArgs& a) {
  int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  cuda::Stream st = cuda::current_stream();
  if (N * C * S == 0) return;
  if (a.training) {
    if (S == 1) {
      auto* k = &bn_stats_cols_kernel<T>;
      DLCORE_LAUNCH(k, cuda::blocks_for(C, kThreads), kThreads, 0, st)(sm.data<T>(), si.data<T>(), ptr_or_null<T>(rm),
                                                                        ptr_or_null<T>(rv), x.data<T>(), N, C,
                                                                        (T)a.eps, (T)a.momentum);
    } else {
      // deterministic two-level reduction: partial sums per (channel, chunk), then an ordered fold per channel
      int64_t P = bn_chunks(N * S, C);
      Tensor partial = Tensor::empty(IntList{C * P}, x.dtype(), x.device());
      unsigned gb = cuda::blocks_for(C * P, 1), gc = cuda::blocks_for(C, kThreads);
      T eps = (T)a.eps, mom = (T)a.momentum;
      auto* k0 = &bn_partial_kernel<0, T>;
      DLCORE_LAUNCH(k0, gb, kStatThreads, 0, st)(partial.data<T>(), x.data<T>(), nullptr, nullptr, N, C, S, P);
      auto* f0 = &bn_fold_stats_kernel<0, T>;
      DLCORE_LAUNCH(f0, gc, kThreads, 0, st)(sm.data<T>(), si.data<T>(), ptr_or_null<T>(rm), ptr_or_null<T>(rv),
                                             partial.data<T>(), N * S, C, P, eps, mom);
      auto* k1 = &bn_partial_kernel<1, T>;
      DLCORE_LAUNCH(k1, gb, kStatThreads, 0, st)(partial.data<T>(), x.data<T>(), nullptr, sm.data<T>(), N, C, S, P);
      auto* f1 = &bn_fold_stats_kernel<1, T>;
      DLCORE_LAUNCH(f1, gc, kThreads, 0, st)(sm.data<T>(), si.data<T>(), ptr_or_null<T>(rm), ptr_or_null<T>(rv),
                                             partial.data<T>(), N * S, C, P, eps, mom);
    }
  } else {
    auto* k = &bn_eval_stats_kernel<T>;
    DLCORE_LAUNCH(k, cuda::blocks_for(C, kThreads), kThreads, 0, st)(sm.data<T>(), si.data<T>(), rm.data<T>(),
                                                                      rv.data<T>(), C, (T)a.eps);
  }
  int64_t total = N * C * S;
  auto* k = &bn_apply_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(total, kThreads), kThreads, 0, st)(y.data<T>(), x.data<T>(), sm.data<T>(),
                                                                        si.data<T>(), ptr_or_null<T>(w),
                                                                        ptr_or_null<T>(b), total, C, S);
}

template <class T>
void bn_bwd_launch(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                   const Tensor& w, const Tensor& mean, const Tensor& invstd, bool training) {
  int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  cuda::Stream st = cuda::current_stream();
  if (N * C * S == 0) return;
  Tensor sums = Tensor::empty(IntList{2 * C}, x.dtype(), x.device());
  if (S == 1) {
    auto* k = &bn_grad_sums_cols_kernel<T>;
    DLCORE_LAUNCH(k, cuda::blocks_for(C, kThreads), kThreads, 0, st)(sums.data<T>(), ptr_or_null<T>(gw),
                                                                      ptr_or_null<T>(gb), g.data<T>(), x.data<T>(),
                                                                      mean.data<T>(), invstd.data<T>(), N, C);
  } else {
    int64_t P = bn_chunks(N * S, C);
    Tensor partial = Tensor::empty(IntList{2 * C * P}, x.dtype(), x.device());
    auto* k = &bn_partial_kernel<2, T>;
    DLCORE_LAUNCH(k, cuda::blocks_for(C * P, 1), kStatThreads, 0, st)(partial.data<T>(), x.data<T>(), g.data<T>(),
                                                                       mean.data<T>(), N, C, S, P);
    auto* f = &bn_fold_grad_kernel<T>;
    DLCORE_LAUNCH(f, cuda::blocks_for(C, kThreads), kThreads, 0, st)(sums.data<T>(), ptr_or_null<T>(gw),
                                                                      ptr_or_null<T>(gb), partial.data<T>(),
                                                                      invstd.data<T>(), C, P);
  }
  if (!gx.defined()) return;
  int64_t total = N * C * S;
  auto* k = &bn_grad_input_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(total, kThreads), kThreads, 0, st)(gx.data<T>(), g.data<T>(), x.data<T>(),
                                                                        ptr_or_null<T>(w), mean.data<T>(),
                                                                        invstd.data<T>(), sums.data<T>(), total, C, S,
                                                                        training);
}

template <class T>
void lrn_fwd_launch(const Tensor& y, const Tensor& x, const LrnArgs& a) {
  int64_t C = x.size(1), S = x.size(2), total = x.numel();
  if (total == 0) return;
  LrnT win{a.size / 2, (a.size - 1) / 2};
  auto* k = &lrn_fwd_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(total, kThreads), kThreads, 0, cuda::current_stream())(
      y.data<T>(), x.data<T>(), total, C, S, win, (T)a.k, (T)(a.alpha / (double)a.size), (T)-a.beta);
}

template <class T>
void lrn_bwd_launch(const Tensor& gx, const Tensor& g, const Tensor& x, const LrnArgs& a) {
  int64_t C = x.size(1), S = x.size(2), total = x.numel();
  if (total == 0) return;
  LrnT win{a.size / 2, (a.size - 1) / 2};
  cuda::Stream st = cuda::current_stream();
  Tensor sc = Tensor::empty(x.shape(), x.dtype(), x.device()), t = Tensor::empty(x.shape(), x.dtype(), x.device());
  auto* k1 = &lrn_bwd_prep_kernel<T>;
  DLCORE_LAUNCH(k1, cuda::blocks_for(total, kThreads), kThreads, 0, st)(
      sc.data<T>(), t.data<T>(), g.data<T>(), x.data<T>(), total, C, S, win, (T)a.k, (T)(a.alpha / (double)a.size),
      (T)(-a.beta - 1));
  auto* k2 = &lrn_bwd_kernel<T>;
  DLCORE_LAUNCH(k2, cuda::blocks_for(total, kThreads), kThreads, 0, st)(
      gx.data<T>(), g.data<T>(), x.data<T>(), sc.data<T>(), t.data<T>(), total, C, S, win,
      (T)(2.0 * a.alpha * a.beta / (double)a.size), (T)-a.beta);
}

struct NormCudaFns {
  BatchNormFwdFn* bn_fwd = nullptr;
  BatchNormBwdFn* bn_bwd = nullptr;
  LrnFwdFn* lrn_fwd = nullptr;
  LrnBwdFn* lrn_bwd = nullptr;
};

template <class T>
NormCudaFns norm_cuda_fns() {
  return NormCudaFns{&bn_fwd_launch<T>, &bn_bwd_launch<T>, &lrn_fwd_launch<T>, &lrn_bwd_launch<T>};
}

NormCudaFns norm_cuda_fns_f64();  // norm_f64_cuda.cu

}  // namespace dlcore::norm_cuda
