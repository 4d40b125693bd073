// CUDA embedding (contract in embedding.h).
//   forward:  one thread per output element (m, d): out[m, d] = weight[idx[m], d]; moved as 32/64-bit words, so
//             the float kernel never touches double.
//   backward: grad_weight zeroed, then one thread per (m, d) adds g[m, d] (times 1 / count(idx[m]) with
//             scale_grad_by_freq) into grad_weight[idx[m], d] with atomicAdd: repeated indices from different blocks
//             meet in the same row. The summation order of repeated indices is not fixed (float atomics), so the
//             result can differ from the CPU's in the last bits; padding_idx rows get no contribution (stay 0).
//             Counts for scale_grad_by_freq: an int32 histogram [V] built with atomicAdd first.
#pragma once
#include "cuda/cuda_kernel.cuh"
#include "ops/embedding/embedding.h"

namespace dlcore::embedding_cuda {

constexpr int kThreads = 256;

template <class U>
__global__ void embedding_fwd_kernel(U* __restrict__ out, const U* __restrict__ w, const int64_t* __restrict__ idx,
                                     int64_t M, int64_t D) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < M * D; i += step)
    out[i] = w[idx[i / D] * D + i % D];
}

template <class T>
__global__ void zero_kernel(T* __restrict__ p, int64_t n) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) p[i] = T(0);
}

template <class C>
__global__ void embedding_count_kernel(C* __restrict__ counts, const int64_t* __restrict__ idx, int64_t M) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t m = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; m < M; m += step) atomicAdd(&counts[idx[m]], 1);
}

template <class T>
__global__ void embedding_bwd_kernel(T* gw, const T* __restrict__ g, const int64_t* __restrict__ idx,
                                     const int* __restrict__ counts, int64_t M, int64_t D, int64_t padding_idx) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < M * D; i += step) {
    int64_t v = idx[i / D];
    if (v == padding_idx) continue;
    T s = counts ? T(1) / (T)counts[v] : T(1);
    atomicAdd(&gw[v * D + i % D], g[i] * s);
  }
}

template <class T>
void embedding_bwd_launch(const Tensor& gw, const Tensor& g, const Tensor& idx, int64_t padding_idx, bool freq) {
  int64_t V = gw.size(0), D = gw.size(1), M = idx.numel();
  cuda::Stream s = cuda::current_stream();
  auto* kz = &zero_kernel<T>;
  DLCORE_LAUNCH(kz, cuda::blocks_for(V * D, kThreads), kThreads, 0, s)(gw.data<T>(), V * D);
  if (M * D == 0) return;
  Tensor counts;
  if (freq) {
    counts = Tensor::empty(IntList{V}, DType::Int32, gw.device());
    auto* kc0 = &zero_kernel<int>;
    DLCORE_LAUNCH(kc0, cuda::blocks_for(V, kThreads), kThreads, 0, s)(counts.data<int32_t>(), V);
    auto* kc = &embedding_count_kernel<int>;
    DLCORE_LAUNCH(kc, cuda::blocks_for(M, kThreads), kThreads, 0, s)(counts.data<int32_t>(), idx.data<int64_t>(), M);
  }
  auto* k = &embedding_bwd_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(M * D, kThreads), kThreads, 0, s)(
      gw.data<T>(), g.data<T>(), idx.data<int64_t>(), freq ? counts.data<int32_t>() : nullptr, M, D, padding_idx);
}

}  // namespace dlcore::embedding_cuda
