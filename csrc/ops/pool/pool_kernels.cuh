// CUDA pooling kernels (contract of pool.h: contiguous planes in [P, H, W], out [P, Ho, Wo]).
//
// Index arithmetic type X: int32 when every flat index fits (cheaper divisions), int64 otherwise (template parameter).
// Forward: one thread per output element (grid-stride), the window formulas shared with the CPU
// (max_pool_window, avg_pool_window, adaptive_start/end in pool.h), so values and argmax equal the CPU's.
// Backward: a GATHER over the windows that contain each input element (one thread per input element, every gx
// element written exactly once): deterministic, no atomics, no zero-fill pass. The candidate windows are visited in
// increasing (oh, ow) order, the order in which the CPU loop adds into gx (average pooling: the sums grouped by
// output row, as the CPU adds a row of contributions per output row), so the sums are the CPU's bit for bit.
//   max:  two passes: (1) the argmax of every window into an int32 workspace (int64 for planes of 2^31+ elements),
//         (2) the gather: gx[h, w] = sum of g over the windows whose argmax is (h, w).
//   avg:  gx[h, w] = sum over the windows containing (h, w) of g / divisor.
//   adaptive: output cells [floor(i L / Lo), ceil((i + 1) L / Lo)) containing h are i in
//         [floor(h Lo / L), floor(((h + 1) Lo - 1) / L)], re-checked against the exact cell bounds.
#pragma once
#include <cstdint>

#include "cuda/cuda_kernel.cuh"
#include "ops/pool/pool.h"

namespace dlcore::pool_cuda {

constexpr int kThreads = 256;

// max_pool2d forward: out (optional) and the argmax as index type I (optional: int64 indices for the user, or the
// backward's int32 workspace).
template <class T, class I, class X>
__global__ void max_pool_fwd_kernel(T* __restrict__ out, I* __restrict__ idx, const T* __restrict__ in, int64_t P,
                                    int64_t H, int64_t W, int64_t Ho, int64_t Wo, Pool2dParams p) {
  const X n = (X)(P * Ho * Wo), step = (X)gridDim.x * (X)blockDim.x, HWo = (X)(Ho * Wo), Wo_ = (X)Wo;
  for (X e = (X)blockIdx.x * (X)blockDim.x + (X)threadIdx.x; e < n; e += step) {
    X pl = e / HWo, o = e - pl * HWo, oh = o / Wo_, ow = o - oh * Wo_;
    T m;
    int64_t b = max_pool_window(in + (int64_t)pl * H * W, H, W, oh, ow, p, &m);
    if (out) out[e] = m;
    if (idx) idx[e] = (I)b;
  }
}

// The output windows that can contain input row h: oh with oh*s - pad + i*d == h for some tap i, visited for taps
// i = k-1 .. 0, i.e. increasing oh. Calls fn(oh) for each one in range.
template <class X, class F>
__device__ __forceinline__ void for_windows_dilated(X h, X k, X s, X pad, X d, X Lo, const F& fn) {
  for (X i = k - 1; i >= 0; --i) {
    X num = h + pad - i * d;
    if (num < 0) continue;
    X o = num / s;
    if (o * s == num && o < Lo) fn(o);
  }
}

template <class T, class I, class X>
__global__ void max_pool_bwd_kernel(T* __restrict__ gin, const T* __restrict__ gout, const I* __restrict__ arg,
                                    int64_t P, int64_t H, int64_t W, int64_t Ho, int64_t Wo, Pool2dParams p) {
  const X Wo_ = (X)Wo;
  const X n = (X)(P * H * W), step = (X)gridDim.x * (X)blockDim.x, HW = (X)(H * W), W_ = (X)W;
  for (X e = (X)blockIdx.x * (X)blockDim.x + (X)threadIdx.x; e < n; e += step) {
    X pl = e / HW, hw = e - pl * HW, h = hw / W_, w = hw - h * W_;
    const T* g = gout + (int64_t)pl * Ho * Wo;
    const I* a = arg + (int64_t)pl * Ho * Wo;
    T s = T(0);
    for_windows_dilated<X>(h, (X)p.kh, (X)p.sh, (X)p.ph, (X)p.dh, (X)Ho, [&](X oh) {
      for_windows_dilated<X>(w, (X)p.kw, (X)p.sw, (X)p.pw, (X)p.dw, Wo_, [&](X ow) {
        if ((int64_t)a[oh * Wo_ + ow] == (int64_t)hw) s += g[oh * Wo_ + ow];
      });
    });
    gin[e] = s;
  }
}

template <class T, class X>
__global__ void avg_pool_fwd_kernel(T* __restrict__ out, const T* __restrict__ in, int64_t P, int64_t H, int64_t W,
                                    int64_t Ho, int64_t Wo, Pool2dParams p) {
  const X n = (X)(P * Ho * Wo), step = (X)gridDim.x * (X)blockDim.x, HWo = (X)(Ho * Wo), Wo_ = (X)Wo;
  for (X e = (X)blockIdx.x * (X)blockDim.x + (X)threadIdx.x; e < n; e += step) {
    X pl = e / HWo, o = e - pl * HWo, oh = o / Wo_, ow = o - oh * Wo_;
    AvgPoolWindow wd = avg_pool_window(oh, ow, H, W, p);
    if (wd.h0 >= wd.h1 || wd.w0 >= wd.w1) {
      out[e] = T(0);
      continue;
    }
    out[e] = window_col_sum(in + (int64_t)pl * H * W, W, wd.h0, wd.h1, wd.w0, wd.w1) / (T)wd.div;
  }
}

// First and last (inclusive) window along one side whose raw span [o*s - pad, o*s - pad + k) contains h.
template <class X>
__device__ __forceinline__ void avg_window_range(X h, X k, X s, X pad, X Lo, X& lo, X& hi) {
  X num = h + pad - k + 1;  // o*s >= num
  lo = num <= 0 ? 0 : (num + s - 1) / s;
  hi = (h + pad) / s;
  if (hi > Lo - 1) hi = Lo - 1;
}

template <class T, class X>
__global__ void avg_pool_bwd_kernel(T* __restrict__ gin, const T* __restrict__ gout, int64_t P, int64_t H, int64_t W,
                                    int64_t Ho, int64_t Wo, Pool2dParams p) {
  const X n = (X)(P * H * W), step = (X)gridDim.x * (X)blockDim.x, HW = (X)(H * W), W_ = (X)W;
  for (X e = (X)blockIdx.x * (X)blockDim.x + (X)threadIdx.x; e < n; e += step) {
    X pl = e / HW, hw = e - pl * HW, h = hw / W_, w = hw - h * W_;
    const T* g = gout + (int64_t)pl * Ho * Wo;
    X oh0, oh1, ow0, ow1;
    avg_window_range<X>(h, (X)p.kh, (X)p.sh, (X)p.ph, (X)Ho, oh0, oh1);
    avg_window_range<X>(w, (X)p.kw, (X)p.sw, (X)p.pw, (X)Wo, ow0, ow1);
    T s = T(0);
    for (X oh = oh0; oh <= oh1; ++oh) {  // grouped by output row, as the CPU adds its rows of contributions
      T t = T(0);
      for (X ow = ow0; ow <= ow1; ++ow) {
        AvgPoolWindow wd = avg_pool_window(oh, ow, H, W, p);
        t += g[oh * Wo + ow] / (T)wd.div;
      }
      s += t;
    }
    gin[e] = s;
  }
}

template <class T, class X>
__global__ void adaptive_fwd_kernel(T* __restrict__ out, const T* __restrict__ in, int64_t P, int64_t H, int64_t W,
                                    int64_t Ho, int64_t Wo) {
  const X n = (X)(P * Ho * Wo), step = (X)gridDim.x * (X)blockDim.x, HWo = (X)(Ho * Wo), Wo_ = (X)Wo;
  for (X e = (X)blockIdx.x * (X)blockDim.x + (X)threadIdx.x; e < n; e += step) {
    X pl = e / HWo, o = e - pl * HWo, oh = o / Wo_, ow = o - oh * Wo_;
    int64_t h0 = adaptive_start(oh, H, Ho), h1 = adaptive_end(oh, H, Ho);
    int64_t w0 = adaptive_start(ow, W, Wo), w1 = adaptive_end(ow, W, Wo);
    const T* plane = in + (int64_t)pl * H * W;
    const T s = Ho == 1 && Wo == 1 ? plane_sum16(plane, H * W) : window_col_sum(plane, W, h0, h1, w0, w1);
    out[e] = s / (T)((h1 - h0) * (w1 - w0));
  }
}

// Output cells along one side whose [start, end) contains h (inclusive range; may be empty when lo > hi).
__device__ __forceinline__ void adaptive_range(int64_t h, int64_t L, int64_t Lo, int64_t& lo, int64_t& hi) {
  lo = (h * Lo) / L;
  hi = ((h + 1) * Lo - 1) / L;
  if (hi > Lo - 1) hi = Lo - 1;
  while (lo <= hi && adaptive_end(lo, L, Lo) <= h) ++lo;      // exact bounds (guards the closed forms)
  while (hi >= lo && adaptive_start(hi, L, Lo) > h) --hi;
}

template <class T, class X>
__global__ void adaptive_bwd_kernel(T* __restrict__ gin, const T* __restrict__ gout, int64_t P, int64_t H, int64_t W,
                                    int64_t Ho, int64_t Wo) {
  const X n = (X)(P * H * W), step = (X)gridDim.x * (X)blockDim.x, HW = (X)(H * W), W_ = (X)W;
  for (X e = (X)blockIdx.x * (X)blockDim.x + (X)threadIdx.x; e < n; e += step) {
    X pl = e / HW, hw = e - pl * HW, h = hw / W_, w = hw - h * W_;
    const T* g = gout + (int64_t)pl * Ho * Wo;
    int64_t oh0, oh1, ow0, ow1;
    adaptive_range(h, H, Ho, oh0, oh1);
    adaptive_range(w, W, Wo, ow0, ow1);
    T s = T(0);
    for (int64_t oh = oh0; oh <= oh1; ++oh) {  // grouped by output row, as the CPU adds its rows of contributions
      int64_t ah = adaptive_end(oh, H, Ho) - adaptive_start(oh, H, Ho);
      T t = T(0);
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        int64_t aw = adaptive_end(ow, W, Wo) - adaptive_start(ow, W, Wo);
        t += g[oh * Wo + ow] / (T)(ah * aw);
      }
      s += t;
    }
    gin[e] = s;
  }
}

// ------------------------------------------------------------------------------------------------ launchers

inline unsigned pool_blocks(int64_t n) { return cuda::blocks_for(n, kThreads, 1 << 20); }

// 32-bit index arithmetic (cheaper divisions) when every flat index and the grid-stride overshoot fit in int32.
inline bool small_index(int64_t n) { return n + (int64_t)kThreads * (1 << 20) < INT32_MAX; }

template <class T>
void max_fwd_launch(const Tensor& out, const Tensor& indices, const Tensor& in, const Pool2dParams& p) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = out.size(1), Wo = out.size(2);
  auto* k = small_index(P * Ho * Wo) ? &max_pool_fwd_kernel<T, int64_t, int32_t> : &max_pool_fwd_kernel<T, int64_t, int64_t>;
  DLCORE_LAUNCH(k, pool_blocks(P * Ho * Wo), kThreads, 0, cuda::current_stream())
  (out.data<T>(), indices.defined() ? indices.data<int64_t>() : nullptr, in.data<T>(), P, H, W, Ho, Wo, p);
}

template <class T, class I>
void max_bwd_launch_idx(const Tensor& gin, const Tensor& gout, const Tensor& in, const Pool2dParams& p, DType idt) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = gout.size(1), Wo = gout.size(2);
  cuda::Stream s = cuda::current_stream();
  Tensor arg = Tensor::empty(IntList{P * Ho * Wo}, idt, in.device());
  auto* k1 = small_index(P * Ho * Wo) ? &max_pool_fwd_kernel<T, I, int32_t> : &max_pool_fwd_kernel<T, I, int64_t>;
  DLCORE_LAUNCH(k1, pool_blocks(P * Ho * Wo), kThreads, 0, s)
  ((T*)nullptr, arg.data<I>(), in.data<T>(), P, H, W, Ho, Wo, p);
  auto* k2 = small_index(P * H * W) ? &max_pool_bwd_kernel<T, I, int32_t> : &max_pool_bwd_kernel<T, I, int64_t>;
  DLCORE_LAUNCH(k2, pool_blocks(P * H * W), kThreads, 0, s)
  (gin.data<T>(), gout.data<T>(), (const I*)arg.data<I>(), P, H, W, Ho, Wo, p);
}

template <class T>
void max_bwd_launch(const Tensor& gin, const Tensor& gout, const Tensor& in, const Pool2dParams& p) {
  if (in.size(1) * in.size(2) <= INT32_MAX) return max_bwd_launch_idx<T, int32_t>(gin, gout, in, p, DType::Int32);
  max_bwd_launch_idx<T, int64_t>(gin, gout, in, p, DType::Int64);
}

template <class T>
void avg_fwd_launch(const Tensor& out, const Tensor& in, const Pool2dParams& p) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = out.size(1), Wo = out.size(2);
  auto* k = small_index(P * Ho * Wo) ? &avg_pool_fwd_kernel<T, int32_t> : &avg_pool_fwd_kernel<T, int64_t>;
  DLCORE_LAUNCH(k, pool_blocks(P * Ho * Wo), kThreads, 0, cuda::current_stream())
  (out.data<T>(), in.data<T>(), P, H, W, Ho, Wo, p);
}

template <class T>
void avg_bwd_launch(const Tensor& gin, const Tensor& gout, const Pool2dParams& p) {
  int64_t P = gin.size(0), H = gin.size(1), W = gin.size(2), Ho = gout.size(1), Wo = gout.size(2);
  auto* k = small_index(P * H * W) ? &avg_pool_bwd_kernel<T, int32_t> : &avg_pool_bwd_kernel<T, int64_t>;
  DLCORE_LAUNCH(k, pool_blocks(P * H * W), kThreads, 0, cuda::current_stream())
  (gin.data<T>(), gout.data<T>(), P, H, W, Ho, Wo, p);
}

template <class T>
void adaptive_fwd_launch(const Tensor& out, const Tensor& in) {
  int64_t P = in.size(0), H = in.size(1), W = in.size(2), Ho = out.size(1), Wo = out.size(2);
  auto* k = small_index(P * Ho * Wo) ? &adaptive_fwd_kernel<T, int32_t> : &adaptive_fwd_kernel<T, int64_t>;
  DLCORE_LAUNCH(k, pool_blocks(P * Ho * Wo), kThreads, 0, cuda::current_stream())
  (out.data<T>(), in.data<T>(), P, H, W, Ho, Wo);
}

template <class T>
void adaptive_bwd_launch(const Tensor& gin, const Tensor& gout) {
  int64_t P = gin.size(0), H = gin.size(1), W = gin.size(2), Ho = gout.size(1), Wo = gout.size(2);
  auto* k = small_index(P * H * W) ? &adaptive_bwd_kernel<T, int32_t> : &adaptive_bwd_kernel<T, int64_t>;
  DLCORE_LAUNCH(k, pool_blocks(P * H * W), kThreads, 0, cuda::current_stream())
  (gin.data<T>(), gout.data<T>(), P, H, W, Ho, Wo);
}

// float64 instantiations (pool_f64_cuda.cu: the double-usage gate).
void max_fwd_f64(const Tensor& out, const Tensor& indices, const Tensor& in, const Pool2dParams& p);
void max_bwd_f64(const Tensor& gin, const Tensor& gout, const Tensor& in, const Pool2dParams& p);
void avg_fwd_f64(const Tensor& out, const Tensor& in, const Pool2dParams& p);
void avg_bwd_f64(const Tensor& gin, const Tensor& gout, const Pool2dParams& p);
void adaptive_fwd_f64(const Tensor& out, const Tensor& in);
void adaptive_bwd_f64(const Tensor& gin, const Tensor& gout);

}  // namespace dlcore::pool_cuda
