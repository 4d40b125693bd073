// CUDA index kernels (contract in index.h): gather_by_offset and scatter_by_offset over the elementwise family's
// strided iteration (ew_cuda::Iter, the CPU's coalesced loop), one thread per element.
//   gather:  out[p] = src[src_offset(p) + off[p]]                (elements moved as 1/2/4/8-byte words)
//   scatter: dst[dst_offset(p) + off[p]] = values[p]  (accumulate=false: with repeated offsets one of the writes
//            wins, which one is unspecified, as in torch's index_put_ on cuda)
//            dst[...] += values[p]                    (accumulate=true: atomics, so repeated offsets all add up;
//            float sums are then not in a fixed order). 32/64-bit types use atomicAdd; bool writes `true` when
//            the value is true (an OR: racing writers all store the same value); 8/16-bit types (uint8, float16,
//            bfloat16) add through a compare-and-swap on their aligned 32-bit word.
#pragma once
#include <type_traits>

#include "ops/elementwise/elementwise_kernels.cuh"
#include "ops/index/index.h"

namespace dlcore::index_cuda {

template <class U>
struct GatherF {
  __device__ __forceinline__ void operator()(char** p) const {
    int64_t o = *reinterpret_cast<const int64_t*>(p[2]);
    *reinterpret_cast<U*>(p[0]) = reinterpret_cast<const U*>(p[1])[o];
  }
};

template <class U>
struct ScatterCopyF {
  __device__ __forceinline__ void operator()(char** p) const {
    int64_t o = *reinterpret_cast<const int64_t*>(p[1]);
    reinterpret_cast<U*>(p[0])[o] = *reinterpret_cast<const U*>(p[2]);
  }
};

// *d += v for an 8- or 16-bit T, through a CAS loop on the aligned 32-bit word holding it.
template <class T>
__device__ __forceinline__ void atomic_add_small(T* d, T v) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2);
  uintptr_t addr = reinterpret_cast<uintptr_t>(d);
  unsigned* word = reinterpret_cast<unsigned*>(addr & ~(uintptr_t)3);
  const unsigned shift = (unsigned)(addr & 3) * 8u;
  const unsigned mask = (sizeof(T) == 1 ? 0xffu : 0xffffu) << shift;
  unsigned old = *word, assumed;
  do {
    assumed = old;
    T cur;
    if constexpr (sizeof(T) == 1) {
      cur = (T)((assumed & mask) >> shift);
    } else {
      uint16_t bits = (uint16_t)((assumed & mask) >> shift);
      cur = *reinterpret_cast<T*>(&bits);
    }
    T sum;
    if constexpr (std::is_same_v<T, uint8_t>) sum = (uint8_t)(cur + v);
    else sum = T((float)cur + (float)v);
    unsigned sb;
    if constexpr (sizeof(T) == 1) sb = (unsigned)sum;
    else sb = (unsigned)*reinterpret_cast<uint16_t*>(&sum);
    old = atomicCAS(word, assumed, (assumed & ~mask) | (sb << shift));
  } while (old != assumed);
}

template <class T>
__device__ __forceinline__ void atomic_accumulate(T* d, T v) {
  if constexpr (std::is_same_v<T, bool>) {
    if (v) *d = true;
  } else if constexpr (std::is_same_v<T, int64_t>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(d), (unsigned long long)v);  // two's complement wraps alike
  } else if constexpr (sizeof(T) <= 2) {
    atomic_add_small<T>(d, v);
  } else {
    atomicAdd(d, v);  // int32, float, double
  }
}

template <class T>
struct ScatterAddF {
  __device__ __forceinline__ void operator()(char** p) const {
    int64_t o = *reinterpret_cast<const int64_t*>(p[1]);
    atomic_accumulate<T>(reinterpret_cast<T*>(p[0]) + o, *reinterpret_cast<const T*>(p[2]));
  }
};

template <class T>
void scatter_add_launch(const ew_cuda::Iter& it) {
  ew_cuda::launch_strided<3>(it, ScatterAddF<T>{});
}

void scatter_add_launch_f64(const ew_cuda::Iter& it);  // index_f64_cuda.cu

}  // namespace dlcore::index_cuda
