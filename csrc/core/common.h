// Project-wide macros and small helpers shared by CPU, CUDA and the SIMT emulator.
#pragma once
#include <cstddef>
#include <cstdint>

// A function usable from host code and from CUDA kernels (and from the emulator, where it is plain C++).
#if defined(__CUDACC__)
#define DLCORE_HOSTDEV __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// always_inline: these formulas are included by translation units compiled for different ISAs; an out-of-line
// copy compiled with AVX-512 could otherwise be picked by the linker for everyone.
#define DLCORE_HOSTDEV inline __attribute__((always_inline))
#else
#define DLCORE_HOSTDEV inline
#endif

// Loop unrolling hint that is valid under nvcc -Werror and under g++ without warnings.
#if defined(__CUDACC__)
#define DLCORE_PRAGMA(x) _Pragma(#x)
#define DLCORE_UNROLL DLCORE_PRAGMA(unroll)
#define DLCORE_UNROLL_N(n) DLCORE_PRAGMA(unroll n)
#elif defined(__GNUC__) && !defined(__clang__)
#define DLCORE_PRAGMA(x) _Pragma(#x)
#define DLCORE_UNROLL DLCORE_PRAGMA(GCC unroll 8)
#define DLCORE_UNROLL_N(n) DLCORE_PRAGMA(GCC unroll n)
#else
#define DLCORE_UNROLL
#define DLCORE_UNROLL_N(n)
#endif

#if defined(__GNUC__)
#define DLCORE_LIKELY(x) __builtin_expect(!!(x), 1)
#define DLCORE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define DLCORE_RESTRICT __restrict__
#define DLCORE_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define DLCORE_LIKELY(x) (x)
#define DLCORE_UNLIKELY(x) (x)
#define DLCORE_RESTRICT
#define DLCORE_ALWAYS_INLINE inline
#endif

namespace dlcore {
// Most tensors have few dimensions; shape and strides live inline in the tensor (no heap allocation per op).
constexpr int kMaxDims = 16;
// CPU buffers are aligned for AVX-512 loads.
constexpr std::size_t kCpuAlignment = 64;
}  // namespace dlcore
