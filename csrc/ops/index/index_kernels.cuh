// CUDA index kernels (contract in index.h): gather_by_offset and scatter_by_offset over the elementwise family's
// strided iteration (ew_cuda::Iter, the CPU's coalesced loop), one thread per element.
//   gather:  out[p] = src[src_offset(p) + off[p]]                (elements moved as 1/2/4/8-byte words)
//   scatter: dst[dst_offset(p) + off[p]] = values[p]  (accumulate=false: with repeated offsets the LAST element in
//            the CPU loop's order wins, as on the CPU and in NumPy. Two passes: every element claims its target
//            with atomicMax of its iteration index in a [storage elements] int64 scratch, then only the claim's
//            winner writes. Costs a scratch of the destination storage's size.)
//            dst[...] += values[p]                    (accumulate=true: atomics, so repeated offsets all add up;
//            float sums are then not in a fixed order). 32/64-bit types use atomicAdd; bool writes `true` when
//            the value is true (an OR: racing writers all store the same value); 8/16-bit types (uint8, float16,
//            bfloat16, int8, int16) add through a compare-and-swap on their aligned 32-bit word.
#pragma once
#include <cstring>
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

// *d += v for an 8- or 16-bit T, through a CAS loop on the aligned 32-bit word holding it. Integers wrap (the sum
// of their bit patterns as unsigned); Half/BFloat16 add in float. The new bits are masked to T's width before they
// are shifted into the word (a sign-extended int8 would overwrite its neighbours).
template <class T>
__device__ __forceinline__ void atomic_add_small(T* d, T v) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2);
  using U = std::conditional_t<sizeof(T) == 1, uint8_t, uint16_t>;
  uintptr_t addr = reinterpret_cast<uintptr_t>(d);
  unsigned* word = reinterpret_cast<unsigned*>(addr & ~(uintptr_t)3);
  const unsigned shift = (unsigned)(addr & 3) * 8u;
  const unsigned mask = (unsigned)(U)~U(0) << shift;
  U vb;
  memcpy(&vb, &v, sizeof(T));
  unsigned old = *word, assumed;
  do {
    assumed = old;
    const U cb = (U)((assumed & mask) >> shift);
    U sb;
    if constexpr (std::is_integral_v<T>) {
      sb = (U)(cb + vb);
    } else {
      T cur;
      memcpy(&cur, &cb, sizeof(T));
      const T sum = T((float)cur + (float)v);
      memcpy(&sb, &sum, sizeof(T));
    }
    old = atomicCAS(word, assumed, (assumed & ~mask) | ((unsigned)sb << shift));
  } while (old != assumed);
}

// Operands: 0 dst (strided view), 1 off (int64), 2 values. storage: the first byte of dst's storage.
// PASS 0: winner[target] = max over elements i writing target of i;  PASS 1: the winner writes.
template <int PASS, class U>
__global__ void scatter_last_kernel(ew_cuda::Iter it, const char* storage, long long* winner) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < it.numel; i += step) {
    char* p[3];
    ew_cuda::iter_ptrs<3>(it, i, p);
    U* d = reinterpret_cast<U*>(p[0]) + *reinterpret_cast<const int64_t*>(p[1]);
    int64_t target = (reinterpret_cast<const char*>(d) - storage) / (int64_t)sizeof(U);
    if (PASS == 0) atomicMax(&winner[target], (long long)i);
    else if (winner[target] == (long long)i) *d = *reinterpret_cast<const U*>(p[2]);
  }
}

template <class U>
void scatter_last_launch(const ew_cuda::Iter& it, const Tensor& dst) {
  if (it.numel == 0) return;
  int64_t elems = (int64_t)(dst.storage()->nbytes / sizeof(U));
  Tensor winner = Tensor::empty(IntList{elems}, DType::Int64, dst.device());
  winner.fill(-1);
  const char* storage = static_cast<const char*>(dst.storage()->data);
  long long* w = reinterpret_cast<long long*>(winner.data<int64_t>());
  unsigned grid = cuda::blocks_for(it.numel, ew_cuda::kThreads);
  auto* k0 = &scatter_last_kernel<0, U>;
  DLCORE_LAUNCH(k0, grid, ew_cuda::kThreads, 0, cuda::current_stream())(it, storage, w);
  auto* k1 = &scatter_last_kernel<1, U>;
  DLCORE_LAUNCH(k1, grid, ew_cuda::kThreads, 0, cuda::current_stream())(it, storage, w);
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

// ------------------------------------------------------------------------------------------------- index_offsets
// off[i] = sum_k wrap(idx_k[i]) * stride_k over K contiguous int64 index arrays (index.h). An entry outside
// [lo_k, size_k) (lo_k = -size_k when negatives wrap, else 0) writes no offset and lowers *fault to k * n + i
// (atomicMin: the smallest k, then the smallest i, is the entry the host loop would report first).
struct IdxOffArgs {
  int K;
  const int64_t* p[kMaxDims];
  int64_t size[kMaxDims], stride[kMaxDims];
};

template <bool AllowNeg>
__global__ void index_offsets_kernel(IdxOffArgs a, int64_t n, int64_t* off, unsigned long long* fault) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t o = 0;
    for (int k = 0; k < a.K; ++k) {
      int64_t v = a.p[k][i], sz = a.size[k];
      if (v >= sz || v < (AllowNeg ? -sz : 0)) {
        atomicMin(fault, (unsigned long long)((int64_t)k * n + i));
        break;
      }
      o += (v < 0 ? v + sz : v) * a.stride[k];
    }
    off[i] = o;
  }
}

// ------------------------------------------------------------------------------------------------- nonzero
// Three launches over the flags f[i] = (x[i] != 0) of the contiguous input, cut into nb chunks of `chunk` elements
// (block b owns [b*chunk, (b+1)*chunk)):
//   count:  cnt[b] = the number of set flags in chunk b;
//   scan:   one thread turns cnt into exclusive offsets in place and writes the total to cnt[nb];
//   write:  block b walks its chunk in tiles of blockDim.x flags; a block-wide prefix sum of the tile's flags
//           places each hit at cnt[b] + (hits before the tile) + (hits before it in the tile): row-major order.
// The coordinates of flat index i are unravelled through the input's sizes (NzShape).
constexpr int kNonzeroThreads = 256;
constexpr int kNonzeroMaxBlocks = 1024;
constexpr int kNonzeroTiles = 4;

struct NzShape {
  int nd;
  int64_t size[kMaxDims];
};

// Inclusive block-wide prefix sum of v over threadIdx.x (Hillis-Steele in s[0, blockDim.x)); every thread gets its
// own inclusive sum, and *total the block's sum. Leaves s free for reuse (ends with a barrier).
__device__ __forceinline__ int nz_block_scan(int v, int* s, int* total) {
  const int t = threadIdx.x, n = blockDim.x;
  s[t] = v;
  __syncthreads();
  for (int d = 1; d < n; d <<= 1) {
    int add = t >= d ? s[t - d] : 0;
    __syncthreads();
    s[t] += add;
    __syncthreads();
  }
  int r = s[t];
  *total = s[n - 1];
  __syncthreads();
  return r;
}

template <int Threads>  // (templates: the header is included by two files)
__global__ void nonzero_count_kernel(const uint8_t* f, int64_t n, int64_t chunk, long long* cnt) {
  __shared__ int s[Threads];
  const int64_t lo = (int64_t)blockIdx.x * chunk;
  const int64_t hi = lo + chunk < n ? lo + chunk : n;
  int c = 0;
  for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) c += f[i] != 0;
  int total;
  nz_block_scan(c, s, &total);
  if (threadIdx.x == 0) cnt[blockIdx.x] = total;
}

template <int Threads>
__global__ void nonzero_scan_kernel(long long* cnt, int nb) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  long long run = 0;
  for (int b = 0; b < nb; ++b) {
    long long c = cnt[b];
    cnt[b] = run;
    run += c;
  }
  cnt[nb] = run;
}

template <int Threads>
__global__ void nonzero_write_kernel(const uint8_t* f, int64_t n, int64_t chunk, const long long* offs, NzShape sh,
                                     int64_t* out) {
  __shared__ int s[Threads];
  const int64_t lo = (int64_t)blockIdx.x * chunk;
  const int64_t hi = lo + chunk < n ? lo + chunk : n;
  int64_t pos = (int64_t)offs[blockIdx.x];
  for (int64_t base = lo; base < hi; base += blockDim.x) {  // uniform trip count over the block
    const int64_t i = base + threadIdx.x;
    const int hit = (i < hi && f[i] != 0) ? 1 : 0;
    int total;
    const int incl = nz_block_scan(hit, s, &total);
    if (hit) {
      int64_t* row = out + (pos + incl - 1) * sh.nd;
      int64_t r = i;
      for (int d = sh.nd - 1; d >= 0; --d) {
        int64_t sz = sh.size[d];
        row[d] = r % sz;
        r /= sz;
      }
    }
    pos += total;
  }
}

}  // namespace dlcore::index_cuda
