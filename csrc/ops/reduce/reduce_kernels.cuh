// CUDA reduction kernels (contract of reduce.h: contiguous in viewed as [O, R, I], out contiguous [O, I]).
//
//   I == 1 (rows): one block per output row (grid-stride over rows); each thread folds a strided slice of the row,
//                  then a warp reduction with __shfl_down_sync, per-warp partials in shared memory, a barrier, and
//                  warp 0 folds the partials. Block size: R rounded up to a power of two, between 32 and 256.
//   I  > 1 (cols): one thread per output element (o, i), looping over r; neighbouring threads read neighbouring i,
//                  so the loads coalesce.
// argmax/argmin carry (value, index) pairs: the first index of the extreme value wins, NaN counts as the extreme
// (the CPU kernel's rule). Max/min propagate NaN through max_propagate_nan/min_propagate_nan (elementwise.h).
#pragma once
#include <limits>
#include <type_traits>

#include "cuda/cuda_kernel.cuh"
#include "ops/reduce/reduce.h"

namespace dlcore::reduce_cuda {

template <ReduceOp OP, class T>
__device__ __forceinline__ T reduce_init() {
  if constexpr (OP == ReduceOp::Sum) return T(0);
  else if constexpr (OP == ReduceOp::Prod) return T(1);
  else if constexpr (OP == ReduceOp::Max) {
    if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::lowest();
  } else if constexpr (OP == ReduceOp::Min) {
    if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::max();
  } else if constexpr (OP == ReduceOp::Any) return T(false);
  else return T(true);
}

template <ReduceOp OP, class T>
__device__ __forceinline__ T reduce_combine(T a, T b) {
  if constexpr (OP == ReduceOp::Sum) return (T)(a + b);
  else if constexpr (OP == ReduceOp::Prod) return (T)(a * b);
  else if constexpr (OP == ReduceOp::Max) return max_propagate_nan(a, b);
  else if constexpr (OP == ReduceOp::Min) return min_propagate_nan(a, b);
  else if constexpr (OP == ReduceOp::Any) return (T)(a || b);
  else return (T)(a && b);
}

// __shfl_down_sync has no 8-bit overloads: move small types as int.
template <class T>
__device__ __forceinline__ T shfl_down(T v, int off) {
  if constexpr (sizeof(T) < 4) return (T)__shfl_down_sync(0xffffffffu, (int)v, off);
  else return __shfl_down_sync(0xffffffffu, v, off);
}

template <ReduceOp OP, class T>
__device__ __forceinline__ T warp_reduce(T v) {
  DLCORE_UNROLL
  for (int off = 16; off > 0; off /= 2) v = reduce_combine<OP, T>(v, shfl_down(v, off));
  return v;
}

// A thread's sequential sum: compensated (Kahan) for float sums, whose rounding is otherwise biased on data of one
// sign and size (10^6 values near 1000 summed 5e-7 off, making var() several times too large); the reductions are
// memory-bound, so the extra flops per element cost nothing. Other ops and types: the plain combine.
template <ReduceOp OP, class T>
struct SeqAcc {
  T acc = reduce_init<OP, T>(), comp = T(0);
  __device__ __forceinline__ void add(T v) {
    if constexpr (OP == ReduceOp::Sum && std::is_same_v<T, float>) {
      const T y = v - comp, t = acc + y;
      comp = (t - t == T(0)) ? (t - acc) - y : T(0);  // (t finite; at an infinite sum inf - inf would be NaN)
      acc = t;
    } else {
      acc = reduce_combine<OP, T>(acc, v);
    }
  }
};

template <ReduceOp OP, class T>
__global__ void reduce_rows_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t O, int64_t R) {
  __shared__ T partial[32];
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  for (int64_t o = blockIdx.x; o < O; o += gridDim.x) {
    const T* row = x + o * R;
    SeqAcc<OP, T> seq;
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x) seq.add(row[r]);
    T acc = warp_reduce<OP, T>(seq.acc);
    if (lane == 0) partial[warp] = acc;
    __syncthreads();
    if (warp == 0) {
      acc = lane < nwarps ? partial[lane] : reduce_init<OP, T>();
      acc = warp_reduce<OP, T>(acc);
      if (lane == 0) out[o] = acc;
    }
    __syncthreads();  // partial[] is reused by the next row
  }
}

template <ReduceOp OP, class T>
__global__ void reduce_cols_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t O, int64_t R, int64_t I) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < O * I; j += step) {
    int64_t o = j / I, i = j % I;
    const T* p = x + o * R * I + i;
    SeqAcc<OP, T> seq;
    for (int64_t r = 0; r < R; ++r) seq.add(p[r * I]);
    out[j] = seq.acc;
  }
}

// ---- argmax / argmin: (value, index) pairs; index -1 = no element yet ----
template <bool IsMax, class T>
__device__ __forceinline__ bool arg_better(T v2, int64_t i2, T v1, int64_t i1) {
  if (i2 < 0) return false;
  if (i1 < 0) return true;
  bool n1 = is_nan_v(v1), n2 = is_nan_v(v2);
  if (n1 || n2) return n2 && (!n1 || i2 < i1);
  if (IsMax ? v2 > v1 : v2 < v1) return true;
  return v2 == v1 && i2 < i1;
}

template <bool IsMax, class T>
__global__ void arg_rows_kernel(const T* __restrict__ x, int64_t* __restrict__ out, int64_t O, int64_t R) {
  __shared__ T pv[32];
  __shared__ int64_t pi[32];
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  for (int64_t o = blockIdx.x; o < O; o += gridDim.x) {
    const T* row = x + o * R;
    T bv = T(0);
    int64_t bi = -1;
    for (int64_t r = threadIdx.x; r < R; r += blockDim.x)
      if (arg_better<IsMax>(row[r], r, bv, bi)) {
        bv = row[r];
        bi = r;
      }
    for (int pass = 0; pass < 2; ++pass) {
      DLCORE_UNROLL
      for (int off = 16; off > 0; off /= 2) {
        T ov = shfl_down(bv, off);
        int64_t oi = __shfl_down_sync(0xffffffffu, bi, off);
        if (lane + off < 32 && arg_better<IsMax>(ov, oi, bv, bi)) {
          bv = ov;
          bi = oi;
        }
      }
      if (pass == 1) break;
      if (lane == 0) {
        pv[warp] = bv;
        pi[warp] = bi;
      }
      __syncthreads();
      if (warp != 0) break;
      bv = lane < nwarps ? pv[lane] : T(0);
      bi = lane < nwarps ? pi[lane] : -1;
    }
    if (threadIdx.x == 0) out[o] = bi;
    __syncthreads();
  }
}

template <bool IsMax, class T>
__global__ void arg_cols_kernel(const T* __restrict__ x, int64_t* __restrict__ out, int64_t O, int64_t R, int64_t I) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < O * I; j += step) {
    int64_t o = j / I, i = j % I;
    const T* p = x + o * R * I + i;
    T bv = p[0];
    int64_t bi = 0;
    for (int64_t r = 1; r < R; ++r)
      if (arg_better<IsMax>(p[r * I], r, bv, bi)) {
        bv = p[r * I];
        bi = r;
      }
    out[j] = bi;
  }
}

// ---- host launchers ----
inline int rows_block(int64_t R) {
  int t = 32;
  while (t < 256 && t < R) t *= 2;
  return t;
}

template <ReduceOp OP, class T>
void launch_value(const T* x, T* out, int64_t O, int64_t R, int64_t I) {
  cuda::Stream s = cuda::current_stream();
  if (I == 1) {
    auto* k = &reduce_rows_kernel<OP, T>;
    DLCORE_LAUNCH(k, cuda::blocks_for(O, 1), rows_block(R), 0, s)(x, out, O, R);
  } else {
    auto* k = &reduce_cols_kernel<OP, T>;
    DLCORE_LAUNCH(k, cuda::blocks_for(O * I, 256), 256, 0, s)(x, out, O, R, I);
  }
}

template <bool IsMax, class T>
void launch_arg(const T* x, int64_t* out, int64_t O, int64_t R, int64_t I) {
  cuda::Stream s = cuda::current_stream();
  if (I == 1) {
    auto* k = &arg_rows_kernel<IsMax, T>;
    DLCORE_LAUNCH(k, cuda::blocks_for(O, 1), rows_block(R), 0, s)(x, out, O, R);
  } else {
    auto* k = &arg_cols_kernel<IsMax, T>;
    DLCORE_LAUNCH(k, cuda::blocks_for(O * I, 256), 256, 0, s)(x, out, O, R, I);
  }
}

using ReduceLaunchFn = void(ReduceOp op, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I);

// The launcher of every op supported for T (the CPU's dtype rules); raises TypeError for the others.
template <class T>
void reduce_launch(ReduceOp op, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I) {
  const T* x = in.data<T>();
  if (op == ReduceOp::ArgMax) return launch_arg<true, T>(x, out.data<int64_t>(), O, R, I);
  if (op == ReduceOp::ArgMin) return launch_arg<false, T>(x, out.data<int64_t>(), O, R, I);
  T* o = out.data<T>();
  if constexpr (std::is_same_v<T, bool>) {
    if (op == ReduceOp::Any || op == ReduceOp::Max) return launch_value<ReduceOp::Any, T>(x, o, O, R, I);
    if (op == ReduceOp::All || op == ReduceOp::Min) return launch_value<ReduceOp::All, T>(x, o, O, R, I);
  } else {
    if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, int64_t>) {
      if (op == ReduceOp::Sum) return launch_value<ReduceOp::Sum, T>(x, o, O, R, I);
      if (op == ReduceOp::Prod) return launch_value<ReduceOp::Prod, T>(x, o, O, R, I);
    }
    if (op == ReduceOp::Max) return launch_value<ReduceOp::Max, T>(x, o, O, R, I);
    if (op == ReduceOp::Min) return launch_value<ReduceOp::Min, T>(x, o, O, R, I);
  }
  DLCORE_THROW(TypeError, reduce_op_name(op), ": not supported for dtype ", dtype_name(in.dtype()), " on cuda");
}

// float64 lives in reduce_f64_cuda.cu (the double-usage gate).
void reduce_launch_f64(ReduceOp op, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I);

}  // namespace dlcore::reduce_cuda
