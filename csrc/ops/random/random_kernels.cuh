// CUDA random tensors: one thread per element evaluates random_element<T> (random.h), the same function the CPU
// kernel uses, so cpu and cuda give the same tensor for the same (seed, offset) in any launch configuration.
// Uniform/Bernoulli/Integer are bit-identical (the affine step is rounded without FMA on both sides, see
// affine_no_fma); Normal goes through float64 log/sqrt/cos/sin, whose CUDA versions may differ from the host libm
// in the last bit of a double (the float32 result nearly always rounds to the same value).
// The element computation is in double for every dtype, so all instantiations live in random_f64_cuda.cu.
#pragma once
#include "cuda/cuda_kernel.cuh"
#include "ops/random/random.h"

namespace dlcore::random_cuda {

constexpr int kThreads = 256;

template <class T>
__global__ void random_kernel(T* __restrict__ out, int64_t n, RandomArgs a) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) out[i] = random_element<T>(a, i);
}

template <class T>
void random_launch(const Tensor& out, const RandomArgs& a) {
  int64_t n = out.numel();
  if (n == 0) return;
  auto* k = &random_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(n, kThreads), kThreads, 0, cuda::current_stream())(out.data<T>(), n, a);
}

}  // namespace dlcore::random_cuda
