// CUDA sort and scans (contract in sort.h).
//   sort: each row padded to P = the next power of two >= L, then a bitonic sorting network over the padded rows in
//         global memory, one launch per (stage k, distance j), one thread per element pair; the order is
//         sort_before's (padding ranks last), a strict total order over the row's positions, so the result is the
//         stable sort. log2(P) (log2(P) + 1) / 2 launches (55 for rows of 1024); topk takes the first k columns.
//   scan: one thread per (o, i) line walking l sequentially (coalesced across i), accumulating in the element type.
#pragma once
#include "cuda/cuda_kernel.cuh"
#include "ops/sort/sort.h"

namespace dlcore::sort_cuda {

constexpr int kThreads = 256;

template <class T>
__global__ void sort_init_kernel(T* __restrict__ v, int64_t* __restrict__ ix, const T* __restrict__ x, int64_t R,
                                 int64_t L, int64_t P) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < R * P; t += step) {
    const int64_t r = t / P, i = t % P;
    v[t] = i < L ? x[r * L + i] : T(0);
    ix[t] = i;
  }
}

// One compare-exchange step of the bitonic network: pairs (i, i ^ j); blocks of size k alternate direction.
template <class T>
__global__ void bitonic_step_kernel(T* __restrict__ v, int64_t* __restrict__ ix, int64_t R, int64_t L, int64_t P,
                                    int64_t k, int64_t j, bool descending) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  const int64_t half = P / 2;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < R * half; t += step) {
    const int64_t r = t / half, q = t % half;
    // the q-th pair: i has bit j clear
    const int64_t i = ((q / j) * 2 * j) + (q % j);
    const int64_t l = i + j;
    const int64_t a = r * P + i, b = r * P + l;
    const bool up = (i & k) == 0;
    const T va = v[a], vb = v[b];
    const int64_t ia = ix[a], ib = ix[b];
    const bool swap = up ? sort_before<T>(vb, ib, va, ia, L, descending) : sort_before<T>(va, ia, vb, ib, L, descending);
    if (swap) {
      v[a] = vb;
      v[b] = va;
      ix[a] = ib;
      ix[b] = ia;
    }
  }
}

template <class T>
__global__ void sort_out_kernel(T* __restrict__ vo, int64_t* __restrict__ io, const T* __restrict__ v,
                                const int64_t* __restrict__ ix, int64_t R, int64_t P, int64_t K) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < R * K; t += step) {
    const int64_t r = t / K, j = t % K;
    vo[t] = v[r * P + j];
    io[t] = ix[r * P + j];
  }
}

template <class T>
void sort_launch(const Tensor& values, const Tensor& indices, const Tensor& x, bool descending) {
  const int64_t R = x.size(0), L = x.size(1), K = values.size(1);
  int64_t P = 1;
  while (P < L) P *= 2;
  cuda::Stream s = cuda::current_stream();
  Tensor v = Tensor::empty(IntList{R, P}, x.dtype(), x.device());
  Tensor ix = Tensor::empty(IntList{R, P}, DType::Int64, x.device());
  auto* ki = &sort_init_kernel<T>;
  DLCORE_LAUNCH(ki, cuda::blocks_for(R * P, kThreads), kThreads, 0, s)(v.data<T>(), ix.data<int64_t>(),
                                                                       x.data<T>(), R, L, P);
  auto* kb = &bitonic_step_kernel<T>;
  for (int64_t k = 2; k <= P; k *= 2)
    for (int64_t j = k / 2; j >= 1; j /= 2)
      DLCORE_LAUNCH(kb, cuda::blocks_for(R * P / 2, kThreads), kThreads, 0, s)(v.data<T>(), ix.data<int64_t>(), R,
                                                                               L, P, k, j, descending);
  auto* ko = &sort_out_kernel<T>;
  DLCORE_LAUNCH(ko, cuda::blocks_for(R * K, kThreads), kThreads, 0, s)(
      values.data<T>(), indices.data<int64_t>(), v.data<T>(), ix.data<int64_t>(), R, P, K);
}

template <class T>
__global__ void scan_kernel(T* __restrict__ out, const T* __restrict__ x, int64_t O, int64_t L, int64_t I, bool prod,
                            bool reverse) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; c < O * I; c += step) {
    const int64_t o = c / I, i = c % I;
    T acc = prod ? T(1) : T(0);
    for (int64_t s = 0; s < L; ++s) {
      const int64_t p = (o * L + (reverse ? L - 1 - s : s)) * I + i;
      acc = prod ? acc * x[p] : acc + x[p];
      out[p] = acc;
    }
  }
}

template <class T>
void scan_launch(const Tensor& out, const Tensor& x, bool prod, bool reverse) {
  const int64_t O = x.size(0), L = x.size(1), I = x.size(2);
  auto* k = &scan_kernel<T>;
  DLCORE_LAUNCH(k, cuda::blocks_for(O * I, kThreads), kThreads, 0, cuda::current_stream())(
      out.data<T>(), x.data<T>(), O, L, I, prod, reverse);
}

}  // namespace dlcore::sort_cuda
