// CUDA kernels of the activation family: one grid-stride kernel per (activation, dtype) over n contiguous elements
// (the frontend makes the tensors contiguous), calling the DLCORE_HOSTDEV formulas of activation.h that the CPU's
// scalar loop uses too. Parameters (slope, alpha, beta, threshold) are converted to T on the host, so float kernels
// never touch double.
#pragma once
#include "cuda/cuda_kernel.cuh"
#include "ops/activation/activation.h"

namespace dlcore::act_cuda {

constexpr int kThreads = 256;

// y may alias x (in-place activation): each element is read before it is written by the same thread.
template <Act A, class T>
__global__ void act_fwd_kernel(T* y, const T* x, int64_t n, T a, T b) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) y[i] = act_fwd_s<A, T>(x[i], a, b);
}

template <Act A, class T>
__global__ void act_bwd_kernel(T* __restrict__ gx, const T* __restrict__ g, const T* __restrict__ s, int64_t n, T a,
                               T b) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
    gx[i] = act_bwd_s<A, T>(g[i], s[i], a, b);
}

template <Act A, class T>
void act_fwd_launch(const Tensor& out, const Tensor& in, const ActParams& p) {
  int64_t n = in.numel();
  if (n == 0) return;
  auto* k = &act_fwd_kernel<A, T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(n, kThreads), kThreads, 0, cuda::current_stream())(
      out.data<T>(), in.data<T>(), n, (T)p.a, (T)p.b);
}

template <Act A, class T>
void act_bwd_launch(const Tensor& gx, const Tensor& g, const Tensor& s, const ActParams& p) {
  int64_t n = s.numel();
  if (n == 0) return;
  auto* k = &act_bwd_kernel<A, T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(n, kThreads), kThreads, 0, cuda::current_stream())(
      gx.data<T>(), g.data<T>(), s.data<T>(), n, (T)p.a, (T)p.b);
}

// [act][0 = float32, 1 = float64]
struct ActCudaTable {
  void (*fwd[kNumActs][2])(const Tensor& out, const Tensor& in, const ActParams& p) = {};
  void (*bwd[kNumActs][2])(const Tensor& gx, const Tensor& g, const Tensor& s, const ActParams& p) = {};
};

template <class T, int AI = 0>
void fill_act_cuda(ActCudaTable& t) {
  if constexpr (AI < kNumActs) {
    constexpr int di = sizeof(T) == 8 ? 1 : 0;
    t.fwd[AI][di] = &act_fwd_launch<(Act)AI, T>;
    t.bwd[AI][di] = &act_bwd_launch<(Act)AI, T>;
    fill_act_cuda<T, AI + 1>(t);
  }
}

void fill_act_cuda_f64(ActCudaTable& t);  // activation_f64_cuda.cu

}  // namespace dlcore::act_cuda
