// CUDA kernels of the softmax_loss family (contracts and formulas in softmax_loss.h).
//
// Row problems (softmax over the last dim, I == 1; cross_entropy and multi_margin on [N, C]) run on a "group" of
// threads per row:
//   WARP  (R <= kWarpRowMax): one warp per row, kRowsPerBlock rows per block; reductions with __shfl_xor_sync only.
//   BLOCK (longer rows):      one block of kBlockThreads per row; warp reductions, per-warp partials in shared memory,
//                             then every thread folds the partials in the same order (deterministic).
// Softmax is numerically stable (max subtracted); the row max ignores NaN like the CPU's std::max, and a NaN still
// reaches the output through exp. Softmax over an inner dim (I > 1): one thread per (o, i) column, loops over r;
// neighbouring threads read neighbouring i, so the loads coalesce.
// Nothing here reduces across blocks: the scalar loss (reduction mean/sum) is the reduce op's deterministic
// one-block-per-output sum of the per-sample losses.
// Pointwise losses: a grid-stride loop over the DLCORE_HOSTDEV pw_loss_fwd/pw_loss_bwd of softmax_loss.h.
#pragma once
#include <limits>

#include "cuda/cuda_kernel.cuh"
#include "ops/softmax_loss/softmax_loss.h"

namespace dlcore::sm_cuda {

constexpr int kWarpRowMax = 1024;  // rows up to this length: one warp per row
constexpr int kRowsPerBlock = 4;   // warps (rows) per block in WARP mode
constexpr int kBlockThreads = 256; // BLOCK mode
constexpr int kThreads = 256;      // elementwise and column kernels

// ------------------------------------------------------------------------------------------------ group reductions

template <class T>
__device__ __forceinline__ T max_keep(T a, T b) {  // std::max(a, b): NaN in b is ignored, as on the CPU
  return a < b ? b : a;
}

template <bool MAX, class T>
__device__ __forceinline__ T warp_allreduce(T v) {
  DLCORE_UNROLL
  for (int off = 16; off > 0; off /= 2) {
    T o = __shfl_xor_sync(0xffffffffu, v, off);
    v = MAX ? max_keep(v, o) : v + o;
  }
  return v;
}

// The reduction of v over the row's group, returned to every thread of the group. red: 32 elements of shared
// memory (BLOCK mode only). Every thread of the group must call it.
template <bool BLOCK, bool MAX, class T>
__device__ __forceinline__ T group_allreduce(T v, T* red) {
  v = warp_allreduce<MAX, T>(v);
  if constexpr (BLOCK) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = red[0];
    for (int w = 1; w < nwarps; ++w) v = MAX ? max_keep(v, red[w]) : v + red[w];
    __syncthreads();  // red is reused by the next reduction
  }
  return v;
}

// The group layout of a row kernel: this thread's index in its group, the group size, the first row and the step.
struct RowGroups {
  int tid, size;
  int64_t first, step;
};
template <bool BLOCK>
__device__ __forceinline__ RowGroups row_groups() {
  if constexpr (BLOCK) return RowGroups{(int)threadIdx.x, (int)blockDim.x, (int64_t)blockIdx.x, (int64_t)gridDim.x};
  int per = blockDim.x / 32;
  return RowGroups{(int)(threadIdx.x % 32), 32, (int64_t)blockIdx.x * per + threadIdx.x / 32, (int64_t)gridDim.x * per};
}

// ------------------------------------------------------------------------------------------------ softmax

template <class T, bool LOG, bool BLOCK>
__global__ void softmax_rows_fwd_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t O, int64_t R) {
  __shared__ T red[32];
  RowGroups G = row_groups<BLOCK>();
  for (int64_t o = G.first; o < O; o += G.step) {
    const T* xr = x + o * R;
    T* yr = y + o * R;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t r = G.tid; r < R; r += G.size) m = max_keep(m, xr[r]);
    m = group_allreduce<BLOCK, true>(m, red);
    T s = T(0);
    for (int64_t r = G.tid; r < R; r += G.size) s += std::exp(xr[r] - m);
    s = group_allreduce<BLOCK, false>(s, red);
    if (LOG) {
      T ls = std::log(s);
      for (int64_t r = G.tid; r < R; r += G.size) yr[r] = log_softmax_of(xr[r], m, ls);
    } else {
      T inv = T(1) / s;
      for (int64_t r = G.tid; r < R; r += G.size) yr[r] = std::exp(xr[r] - m) * inv;
    }
  }
}

template <class T, bool LOG, bool BLOCK>
__global__ void softmax_rows_bwd_kernel(T* __restrict__ gx, const T* __restrict__ g, const T* __restrict__ y,
                                        int64_t O, int64_t R) {
  __shared__ T red[32];
  RowGroups G = row_groups<BLOCK>();
  for (int64_t o = G.first; o < O; o += G.step) {
    const T* gr = g + o * R;
    const T* yr = y + o * R;
    T* xr = gx + o * R;
    T s = T(0);
    for (int64_t r = G.tid; r < R; r += G.size) s += LOG ? gr[r] : gr[r] * yr[r];
    s = group_allreduce<BLOCK, false>(s, red);
    for (int64_t r = G.tid; r < R; r += G.size) xr[r] = LOG ? std::exp(yr[r]) * (-s) + gr[r] : yr[r] * (gr[r] - s);
  }
}

// Softmax over an inner dim: thread per column (o, i) of the [O, R, I] view.
template <class T, bool LOG>
__global__ void softmax_cols_fwd_kernel(T* __restrict__ y, const T* __restrict__ x, int64_t O, int64_t R, int64_t I) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < O * I; j += step) {
    int64_t o = j / I, i = j % I;
    const T* xc = x + o * R * I + i;
    T* yc = y + o * R * I + i;
    T m = xc[0];
    for (int64_t r = 1; r < R; ++r) m = max_keep(m, xc[r * I]);
    T s = T(0);
    for (int64_t r = 0; r < R; ++r) s += std::exp(xc[r * I] - m);
    if (LOG) {
      T ls = std::log(s);
      for (int64_t r = 0; r < R; ++r) yc[r * I] = log_softmax_of(xc[r * I], m, ls);
    } else {
      T inv = T(1) / s;
      for (int64_t r = 0; r < R; ++r) yc[r * I] = std::exp(xc[r * I] - m) * inv;
    }
  }
}

template <class T, bool LOG>
__global__ void softmax_cols_bwd_kernel(T* __restrict__ gx, const T* __restrict__ g, const T* __restrict__ y,
                                        int64_t O, int64_t R, int64_t I) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < O * I; j += step) {
    int64_t base = (j / I) * R * I + j % I;
    T s = T(0);
    for (int64_t r = 0; r < R; ++r) s += LOG ? g[base + r * I] : g[base + r * I] * y[base + r * I];
    for (int64_t r = 0; r < R; ++r) {
      int64_t k = base + r * I;
      gx[k] = LOG ? g[k] - std::exp(y[k]) * s : y[k] * (g[k] - s);
    }
  }
}

// ------------------------------------------------------------------------------------------------ cross-entropy

// Per row: lse (as the pair m, log sum exp(x - m)), and loss/wt as ce_fwd of softmax_loops.h. w: class weights or null.
template <class T, bool BLOCK>
__global__ void ce_fwd_kernel(T* __restrict__ loss, T* __restrict__ wt, T* __restrict__ lse_out,
                              const T* __restrict__ x, const int64_t* __restrict__ target, const T* __restrict__ w,
                              int64_t N, int64_t C, int64_t ignore_index, T eps) {
  __shared__ T red[32];
  RowGroups G = row_groups<BLOCK>();
  for (int64_t n = G.first; n < N; n += G.step) {
    const T* xr = x + n * C;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t c = G.tid; c < C; c += G.size) m = max_keep(m, xr[c]);
    m = group_allreduce<BLOCK, true>(m, red);
    T s = T(0);
    for (int64_t c = G.tid; c < C; c += G.size) s += std::exp(xr[c] - m);
    s = group_allreduce<BLOCK, false>(s, red);
    T ls = std::log(s);
    int64_t t = target[n];
    bool ignored = t == ignore_index;
    bool bad = !ignored && (t < 0 || t >= C);  // only reachable under graph capture (the host check is skipped)
    T sm = T(0);
    if (eps != T(0) && !ignored && !bad) {  // the smoothing term: sum_c w_c (lse - x_c)
      for (int64_t c = G.tid; c < C; c += G.size) sm += (w ? w[c] : T(1)) * nll_of_logit(xr[c], m, ls);
      sm = group_allreduce<BLOCK, false>(sm, red);
    }
    if (G.tid == 0) {
      lse_out[2 * n] = m;
      lse_out[2 * n + 1] = ls;
      if (ignored) {
        loss[n] = T(0);
        wt[n] = T(0);
      } else if (bad) {
        loss[n] = std::numeric_limits<T>::quiet_NaN();
        wt[n] = std::numeric_limits<T>::quiet_NaN();
      } else {
        T wtn = w ? w[t] : T(1);
        T l = (T(1) - eps) * wtn * nll_of_logit(xr[t], m, ls);
        if (eps != T(0)) l += eps / (T)C * sm;
        loss[n] = l;
        wt[n] = wtn;
      }
    }
  }
}

// gx_c = p_c A - (e / C) gn w_c - [c == t] (1 - e) w_t gn, A = ((1 - e) w_t + e W / C) gn.
template <class T, bool BLOCK>
__global__ void ce_bwd_kernel(T* __restrict__ gx, const T* __restrict__ g, int64_t gstride, T scale,
                              const T* __restrict__ x, const T* __restrict__ lse, const int64_t* __restrict__ target,
                              const T* __restrict__ w, int64_t N, int64_t C, int64_t ignore_index, T eps) {
  __shared__ T red[32];
  RowGroups G = row_groups<BLOCK>();
  for (int64_t n = G.first; n < N; n += G.step) {
    T* gr = gx + n * C;
    const T* xr = x + n * C;
    int64_t t = target[n];
    if (t == ignore_index) {  // uniform over the group: no reduction is skipped by part of it
      for (int64_t c = G.tid; c < C; c += G.size) gr[c] = T(0);
      continue;
    }
    if (t < 0 || t >= C) {  // out of range (graph capture skips the host check): NaN, no read past the row
      for (int64_t c = G.tid; c < C; c += G.size) gr[c] = std::numeric_limits<T>::quiet_NaN();
      continue;
    }
    T W = (T)C;
    if (w) {
      W = T(0);
      for (int64_t c = G.tid; c < C; c += G.size) W += w[c];
      W = group_allreduce<BLOCK, false>(W, red);
    }
    T gn = g[n * gstride] * scale;
    T wtn = w ? w[t] : T(1);
    T A = ((T(1) - eps) * wtn + eps * W / (T)C) * gn;
    T sub = eps / (T)C * gn;
    T mn = lse[2 * n];
    A *= std::exp(-lse[2 * n + 1]);  // p_c A = exp(x_c - m) (A / s), 1 / s = exp(-ls)
    for (int64_t c = G.tid; c < C; c += G.size) {
      T v = std::exp(xr[c] - mn) * A - (w ? w[c] * sub : sub);
      if (c == t) v -= (T(1) - eps) * wtn * gn;
      gr[c] = v;
    }
  }
}

// ------------------------------------------------------------------------------------------------ nll

template <class T>
__global__ void nll_fwd_kernel(T* __restrict__ loss, T* __restrict__ wt, const T* __restrict__ x,
                               const int64_t* __restrict__ target, const T* __restrict__ w, int64_t N, int64_t C,
                               int64_t ignore_index) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; n < N; n += step) {
    int64_t t = target[n];
    if (t == ignore_index) {
      loss[n] = T(0);
      wt[n] = T(0);
      continue;
    }
    if (t < 0 || t >= C) {  // out of range (graph capture skips the host check)
      loss[n] = wt[n] = std::numeric_limits<T>::quiet_NaN();
      continue;
    }
    T wn = w ? w[t] : T(1);
    loss[n] = -wn * x[n * C + t];
    wt[n] = wn;
  }
}

// Thread per element of grad_input [N, C]: every element is written (zeros off the target).
template <class T>
__global__ void nll_bwd_kernel(T* __restrict__ gx, const T* __restrict__ g, int64_t gstride, T scale,
                               const int64_t* __restrict__ target, const T* __restrict__ w, int64_t N, int64_t C,
                               int64_t ignore_index) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * C; i += step) {
    int64_t n = i / C, c = i % C, t = target[n];
    T v = T(0);
    if (t != ignore_index && (t < 0 || t >= C)) v = std::numeric_limits<T>::quiet_NaN();
    else if (t != ignore_index && c == t) v = -(w ? w[t] : T(1)) * g[n * gstride] * scale;
    gx[i] = v;
  }
}

// ------------------------------------------------------------------------------------------------ pointwise losses

template <class T>
__global__ void pw_fwd_kernel(PwLoss k, T* __restrict__ out, const T* __restrict__ x, const T* __restrict__ y,
                              const T* __restrict__ w, const T* __restrict__ pw, T a, int64_t n) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
    out[i] = pw_loss_fwd<T>(k, x[i], y[i], w ? w[i] : T(1), pw ? pw[i] : T(1), a);
}

template <class T>
__global__ void pw_bwd_kernel(PwLoss k, T* __restrict__ gx, const T* __restrict__ g, int64_t gs, T scale, const T* __restrict__ x,
                              const T* __restrict__ y, const T* __restrict__ w, const T* __restrict__ pw, T a,
                              int64_t n) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    T d = pw_loss_bwd<T>(k, x[i], y[i], w ? w[i] : T(1), pw ? pw[i] : T(1), a);
    gx[i] = d * scale * (g ? g[i * gs] : T(1));
  }
}

// ------------------------------------------------------------------------------------------------ multi-margin

template <class T, bool BLOCK>
__global__ void mm_fwd_kernel(T* __restrict__ loss, const T* __restrict__ x, const int64_t* __restrict__ target,
                              const T* __restrict__ w, int64_t N, int64_t C, int p, T margin) {
  __shared__ T red[32];
  RowGroups G = row_groups<BLOCK>();
  for (int64_t n = G.first; n < N; n += G.step) {
    const T* xr = x + n * C;
    int64_t tn = target[n];
    T xt = xr[tn], s = T(0);
    for (int64_t c = G.tid; c < C; c += G.size) {
      T z = margin - xt + xr[c];
      if (c != tn && z > T(0)) s += p == 1 ? z : z * z;
    }
    s = group_allreduce<BLOCK, false>(s, red);
    if (G.tid == 0) loss[n] = s * (w ? w[tn] : T(1)) / (T)C;
  }
}

template <class T, bool BLOCK>
__global__ void mm_bwd_kernel(T* __restrict__ gx, const T* __restrict__ g, int64_t gstride, T scale,
                              const T* __restrict__ x, const int64_t* __restrict__ target, const T* __restrict__ w,
                              int64_t N, int64_t C, int p, T margin) {
  __shared__ T red[32];
  RowGroups G = row_groups<BLOCK>();
  for (int64_t n = G.first; n < N; n += G.step) {
    const T* xr = x + n * C;
    T* orow = gx + n * C;
    int64_t tn = target[n];
    T gn = g[n * gstride] * scale * (w ? w[tn] : T(1)) / (T)C;
    T xt = xr[tn], gt = T(0);
    for (int64_t c = G.tid; c < C; c += G.size) {
      T z = margin - xt + xr[c], d = T(0);
      if (c != tn && z > T(0)) d = (p == 1 ? T(1) : T(2) * z) * gn;
      if (c != tn) orow[c] = d;
      gt -= d;
    }
    gt = group_allreduce<BLOCK, false>(gt, red);
    if (G.tid == 0) orow[tn] = gt;
  }
}

// ------------------------------------------------------------------------------------------------ host launchers

inline bool use_block(int64_t R) { return R > kWarpRowMax; }

// Grid and block of a row kernel over `rows` rows of length R.
struct RowLaunch {
  unsigned grid, block;
};
inline RowLaunch row_launch(int64_t rows, int64_t R) {
  if (use_block(R)) return RowLaunch{cuda::blocks_for(rows, 1), (unsigned)kBlockThreads};
  return RowLaunch{cuda::blocks_for(rows, kRowsPerBlock), (unsigned)(32 * kRowsPerBlock)};
}

template <class T>
inline const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

template <class T>
void softmax_fwd_launch(bool log, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I) {
  cuda::Stream s = cuda::current_stream();
  T* y = out.data<T>();
  const T* x = in.data<T>();
  if (O * R * I == 0) return;
  if (I == 1) {
    RowLaunch L = row_launch(O, R);
    auto* k = log ? (use_block(R) ? &softmax_rows_fwd_kernel<T, true, true> : &softmax_rows_fwd_kernel<T, true, false>)
                  : (use_block(R) ? &softmax_rows_fwd_kernel<T, false, true> : &softmax_rows_fwd_kernel<T, false, false>);
    DLCORE_LAUNCH(k, L.grid, L.block, 0, s)(y, x, O, R);
  } else {
    auto* k = log ? &softmax_cols_fwd_kernel<T, true> : &softmax_cols_fwd_kernel<T, false>;
    DLCORE_LAUNCH(k, cuda::blocks_for(O * I, kThreads), kThreads, 0, s)(y, x, O, R, I);
  }
}

template <class T>
void softmax_bwd_launch(bool log, const Tensor& gx, const Tensor& g, const Tensor& y, int64_t O, int64_t R, int64_t I) {
  cuda::Stream s = cuda::current_stream();
  if (O * R * I == 0) return;
  if (I == 1) {
    RowLaunch L = row_launch(O, R);
    auto* k = log ? (use_block(R) ? &softmax_rows_bwd_kernel<T, true, true> : &softmax_rows_bwd_kernel<T, true, false>)
                  : (use_block(R) ? &softmax_rows_bwd_kernel<T, false, true> : &softmax_rows_bwd_kernel<T, false, false>);
    DLCORE_LAUNCH(k, L.grid, L.block, 0, s)(gx.data<T>(), g.data<T>(), y.data<T>(), O, R);
  } else {
    auto* k = log ? &softmax_cols_bwd_kernel<T, true> : &softmax_cols_bwd_kernel<T, false>;
    DLCORE_LAUNCH(k, cuda::blocks_for(O * I, kThreads), kThreads, 0, s)(gx.data<T>(), g.data<T>(), y.data<T>(), O, R,
                                                                        I);
  }
}

template <class T>
void ce_fwd_launch(const Tensor& loss, const Tensor& wt, const Tensor& lse, const Tensor& x, const Tensor& target,
                   const Tensor& w, const CrossEntropyArgs& a) {
  int64_t N = x.size(0), C = x.size(1);
  if (N == 0) return;
  RowLaunch L = row_launch(N, C);
  auto* k = use_block(C) ? &ce_fwd_kernel<T, true> : &ce_fwd_kernel<T, false>;
  DLCORE_LAUNCH(k, L.grid, L.block, 0, cuda::current_stream())(loss.data<T>(), wt.data<T>(), lse.data<T>(),
                                                               x.data<T>(), target.data<int64_t>(), ptr_or_null<T>(w),
                                                               N, C, a.ignore_index, (T)a.label_smoothing);
}

template <class T>
void ce_bwd_launch(const Tensor& gx, const Tensor& g, int64_t gstride, double scale, const Tensor& x,
                   const Tensor& lse, const Tensor& target, const Tensor& w, const CrossEntropyArgs& a) {
  int64_t N = x.size(0), C = x.size(1);
  if (N * C == 0) return;
  RowLaunch L = row_launch(N, C);
  auto* k = use_block(C) ? &ce_bwd_kernel<T, true> : &ce_bwd_kernel<T, false>;
  DLCORE_LAUNCH(k, L.grid, L.block, 0, cuda::current_stream())(gx.data<T>(), g.data<T>(), gstride, (T)scale,
                                                               x.data<T>(), lse.data<T>(), target.data<int64_t>(),
                                                               ptr_or_null<T>(w), N, C, a.ignore_index,
                                                               (T)a.label_smoothing);
}

template <class T>
void nll_fwd_launch(const Tensor& loss, const Tensor& wt, const Tensor& x, const Tensor& target, const Tensor& w,
                    int64_t ignore_index) {
  int64_t N = x.size(0), C = x.size(1);
  if (N == 0) return;
  auto* k = &nll_fwd_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(N, kThreads), kThreads, 0, cuda::current_stream())(
      loss.data<T>(), wt.data<T>(), x.data<T>(), target.data<int64_t>(), ptr_or_null<T>(w), N, C, ignore_index);
}

template <class T>
void nll_bwd_launch(const Tensor& gx, const Tensor& g, int64_t gstride, double scale, const Tensor& target,
                    const Tensor& w, int64_t ignore_index) {
  int64_t N = gx.size(0), C = gx.size(1);
  if (N * C == 0) return;
  auto* k = &nll_bwd_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(N * C, kThreads), kThreads, 0, cuda::current_stream())(
      gx.data<T>(), g.data<T>(), gstride, (T)scale, target.data<int64_t>(), ptr_or_null<T>(w), N, C, ignore_index);
}

template <class T>
void pw_fwd_launch(PwLoss kind, const Tensor& out, const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw,
                   const PwLossParams& p) {
  int64_t n = x.numel();
  if (n == 0) return;
  auto* k = &pw_fwd_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(n, kThreads), kThreads, 0, cuda::current_stream())(
      kind, out.data<T>(), x.data<T>(), y.data<T>(), ptr_or_null<T>(w), ptr_or_null<T>(pw), (T)p.a, n);
}

template <class T>
void pw_bwd_launch(PwLoss kind, const Tensor& gx, const Tensor& g, int64_t gs, double scale, const Tensor& x, const Tensor& y,
                   const Tensor& w, const Tensor& pw, const PwLossParams& p) {
  int64_t n = x.numel();
  if (n == 0) return;
  auto* k = &pw_bwd_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(n, kThreads), kThreads, 0, cuda::current_stream())(
      kind, gx.data<T>(), ptr_or_null<T>(g), gs, (T)scale, x.data<T>(), y.data<T>(), ptr_or_null<T>(w),
      ptr_or_null<T>(pw), (T)p.a, n);
}

template <class T>
void mm_fwd_launch(const Tensor& loss, const Tensor& x, const Tensor& target, int p, double margin, const Tensor& w) {
  int64_t N = x.size(0), C = x.size(1);
  if (N == 0) return;
  RowLaunch L = row_launch(N, C);
  auto* k = use_block(C) ? &mm_fwd_kernel<T, true> : &mm_fwd_kernel<T, false>;
  DLCORE_LAUNCH(k, L.grid, L.block, 0, cuda::current_stream())(loss.data<T>(), x.data<T>(), target.data<int64_t>(),
                                                               ptr_or_null<T>(w), N, C, p, (T)margin);
}

template <class T>
void mm_bwd_launch(const Tensor& gx, const Tensor& g, int64_t gstride, double scale, const Tensor& x,
                   const Tensor& target, int p, double margin, const Tensor& w) {
  int64_t N = x.size(0), C = x.size(1);
  if (N * C == 0) return;
  RowLaunch L = row_launch(N, C);
  auto* k = use_block(C) ? &mm_bwd_kernel<T, true> : &mm_bwd_kernel<T, false>;
  DLCORE_LAUNCH(k, L.grid, L.block, 0, cuda::current_stream())(gx.data<T>(), g.data<T>(), gstride, (T)scale,
                                                               x.data<T>(), target.data<int64_t>(), ptr_or_null<T>(w),
                                                               N, C, p, (T)margin);
}

// The launchers of one dtype (float: softmax_loss_cuda.cu, double: softmax_loss_f64_cuda.cu).
struct SmCudaFns {
  void (*softmax_fwd)(bool, const Tensor&, const Tensor&, int64_t, int64_t, int64_t) = nullptr;
  void (*softmax_bwd)(bool, const Tensor&, const Tensor&, const Tensor&, int64_t, int64_t, int64_t) = nullptr;
  CrossEntropyFwdFn* ce_fwd = nullptr;
  CrossEntropyBwdFn* ce_bwd = nullptr;
  NllFwdFn* nll_fwd = nullptr;
  NllBwdFn* nll_bwd = nullptr;
  PwLossFwdFn* pw_fwd = nullptr;
  PwLossBwdFn* pw_bwd = nullptr;
  MultiMarginFwdFn* mm_fwd = nullptr;
  MultiMarginBwdFn* mm_bwd = nullptr;
};

template <class T>
SmCudaFns sm_cuda_fns() {
  SmCudaFns f;
  f.softmax_fwd = &softmax_fwd_launch<T>;
  f.softmax_bwd = &softmax_bwd_launch<T>;
  f.ce_fwd = &ce_fwd_launch<T>;
  f.ce_bwd = &ce_bwd_launch<T>;
  f.nll_fwd = &nll_fwd_launch<T>;
  f.nll_bwd = &nll_bwd_launch<T>;
  f.pw_fwd = &pw_fwd_launch<T>;
  f.pw_bwd = &pw_bwd_launch<T>;
  f.mm_fwd = &mm_fwd_launch<T>;
  f.mm_bwd = &mm_bwd_launch<T>;
  return f;
}

SmCudaFns sm_cuda_fns_f64();  // softmax_loss_f64_cuda.cu

}  // namespace dlcore::sm_cuda
