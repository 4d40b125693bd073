// CUDA dropout (contract in dropout.h): the mask comes from the same counter-based Philox4x32-10 words as on the CPU
// (philox.h, dropout_keep), so cpu and cuda drop the same elements for the same (seed, offset).
//   group == 1: one thread per Philox block, i.e. per 4 consecutive elements (one 10-round Philox per 4 values);
//   group  > 1 (dropout2d: a whole H*W plane shares one word): one thread per element, each recomputing its
//               group's Philox block (keeps every thread busy when groups are few and large).
// y = x * (keep ? scale : 0), exactly the CPU's arithmetic (bit-identical results). y may alias x (in-place).
#pragma once
#include "cuda/cuda_kernel.cuh"
#include "ops/dropout/dropout.h"

namespace dlcore::dropout_cuda {

constexpr int kThreads = 256;

template <class T>
__global__ void dropout_blocks_kernel(T* y, const T* x, int64_t n, uint64_t offset, uint32_t k0, uint32_t k1, float p,
                                      T scale) {
  const int64_t blocks = (n + 3) / 4;
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += step) {
    uint64_t ctr = offset + (uint64_t)b;
    Philox4 r = philox4x32_10((uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0, k0, k1);
    DLCORE_UNROLL
    for (int j = 0; j < 4; ++j) {
      int64_t i = 4 * b + j;
      if (i < n) y[i] = x[i] * (dropout_keep(r.x[j], p) ? scale : T(0));
    }
  }
}

template <class T>
__global__ void dropout_groups_kernel(T* y, const T* x, int64_t n, int64_t group, uint64_t offset, uint32_t k0,
                                      uint32_t k1, float p, T scale) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t r = i / group;
    uint64_t ctr = offset + (uint64_t)(r / 4);
    Philox4 w = philox4x32_10((uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0, k0, k1);
    y[i] = x[i] * (dropout_keep(philox_word(w, (int)(r % 4)), p) ? scale : T(0));
  }
}

// scale = 1 / (1 - p) computed on the host in double and rounded to T, as the CPU loop does.
template <class T>
void dropout_launch(const Tensor& out, const Tensor& in, const DropoutArgs& a, T scale) {
  int64_t n = in.numel();
  if (n == 0) return;
  const uint32_t k0 = (uint32_t)a.seed, k1 = (uint32_t)(a.seed >> 32);
  cuda::Stream s = cuda::current_stream();
  if (a.group == 1) {
    auto* k = &dropout_blocks_kernel<T>;
    DLCORE_LAUNCH(k, cuda::blocks_for((n + 3) / 4, kThreads), kThreads, 0, s)(out.data<T>(), in.data<T>(), n,
                                                                              (uint64_t)a.offset, k0, k1, (float)a.p,
                                                                              scale);
  } else {
    auto* k = &dropout_groups_kernel<T>;
    DLCORE_LAUNCH(k, cuda::blocks_for(n, kThreads), kThreads, 0, s)(out.data<T>(), in.data<T>(), n, a.group,
                                                                    (uint64_t)a.offset, k0, k1, (float)a.p, scale);
  }
}

}  // namespace dlcore::dropout_cuda
