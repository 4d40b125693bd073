// CUDA kernels of the activation family: one grid-stride kernel per (activation, dtype) over n contiguous elements
// (the frontend makes the tensors contiguous), calling the DLCORE_HOSTDEV formulas of activation.h that the CPU's
// scalar loop uses too. Parameters (slope, alpha, beta, threshold) are converted to T on the host, so float kernels
// never touch double.
#pragma once
#include "cuda/cuda_kernel.cuh"
#include "ops/activation/activation.h"

namespace dlcore::act_cuda {

constexpr int kThreads = 256;

template <Act A, class T>
__device__ __forceinline__ T act_fwd_one(T x, T a, T b) {
  if constexpr (A == Act::Relu) return relu_fwd(x);
  else if constexpr (A == Act::LeakyRelu) return leaky_relu_fwd(x, a);
  else if constexpr (A == Act::Elu) return elu_fwd(x, a);
  else if constexpr (A == Act::Sigmoid) return sigmoid_fwd(x);
  else if constexpr (A == Act::Tanh) return tanh_fwd(x);
  else if constexpr (A == Act::Gelu) return gelu_fwd(x);
  else if constexpr (A == Act::GeluTanh) return gelu_tanh_fwd(x);
  else return softplus_fwd(x, a, b);
}

// s: the saved tensor (the output y or the input x, see act_bwd_uses_output).
template <Act A, class T>
__device__ __forceinline__ T act_bwd_one(T g, T s, T a, T b) {
  if constexpr (A == Act::Relu) return relu_bwd(g, s);
  else if constexpr (A == Act::LeakyRelu) return leaky_relu_bwd(g, s, a);
  else if constexpr (A == Act::Elu) return elu_bwd(g, s, a);
  else if constexpr (A == Act::Sigmoid) return sigmoid_bwd(g, s);
  else if constexpr (A == Act::Tanh) return tanh_bwd(g, s);
  else if constexpr (A == Act::Gelu) return gelu_bwd(g, s);
  else if constexpr (A == Act::GeluTanh) return gelu_tanh_bwd(g, s);
  else return softplus_bwd(g, s, a, b);
}

// y may alias x (in-place activation): each element is read before it is written by the same thread.
template <Act A, class T>
__global__ void act_fwd_kernel(T* y, const T* x, int64_t n, T a, T b) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) y[i] = act_fwd_one<A, T>(x[i], a, b);
}

template <Act A, class T>
__global__ void act_bwd_kernel(T* __restrict__ gx, const T* __restrict__ g, const T* __restrict__ s, int64_t n, T a,
                               T b) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step)
    gx[i] = act_bwd_one<A, T>(g[i], s[i], a, b);
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
