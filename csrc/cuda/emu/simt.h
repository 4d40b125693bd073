// The SIMT emulator's device side: what CUDA's headers and nvcc provide to a kernel, as plain C++ for g++.
//
// Included (through cuda/cuda_kernel.cuh) by every *.cu file of the emulated build (DLCORE_CUDA_EMULATED). Never
// include cuda_runtime.h in such a translation unit: it declares threadIdx as an extern of another kind.
//
// Model (see shared/SIMT-EMULATOR.md and emu/scheduler.cpp):
//  - A grid runs one block at a time on the calling OS thread; a block's threads are fibers. A fiber runs until it
//    blocks (__syncthreads, a warp collective, exit); the scheduler then runs the next ready fiber in the chosen
//    order (forward, reverse, random: DLCORE_SIMT_SCHEDULE or dlcore._C._emu_set_schedule).
//  - threadIdx/blockIdx/blockDim/gridDim are thread-local variables the scheduler rewrites on every switch.
//  - __syncthreads releases when every thread of the block that has not exited waits there (exited threads count
//    as arrived, as on hardware).
//  - Warp collectives (__shfl*_sync, __ballot_sync, __any/__all_sync, __syncwarp, mma/ldmatrix emulation) resolve
//    when every lane named in the mask waits at the same collective with the same mask. A mask naming an exited
//    lane, a lane missing from its own mask, or lanes disagreeing stop the launch with an error naming them.
//    A lane that reads a source lane outside the mask gets a poison value (all bits set: NaN for floats).
//  - __shared__ is `static thread_local` (one copy per OS thread, so per running block; it keeps the previous
//    block's contents). Dynamic shared memory (DLCORE_DYNAMIC_SMEM) is a per-block buffer filled with 0xFF bytes
//    (NaN) before every block, so reads of never-written shared memory show up.
//  - Atomics are real atomics (compiler __atomic builtins; CAS loops for float/double).
#pragma once
#if !defined(DLCORE_CUDA_EMULATED)
#error "cuda/emu/simt.h is for the emulated build only"
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

// ------------------------------------------------------------------------------------------------ keywords
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))

#define __shared__ static thread_local
#define __constant__
#define __managed__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __grid_constant__

// ------------------------------------------------------------------------------------------------ vector types
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(16) double2 { double x, y; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }

// ------------------------------------------------------------------------------------------------ built-in variables
// __thread (no dynamic initialisation: no TLS wrapper call). Not initial-exec: a dlopened module has too little
// static TLS space for it under some Pythons.
// Hidden visibility lets the compiler use the local-dynamic model (one TLS base lookup per function).
#define DLCORE_EMU_TLS __thread __attribute__((visibility("hidden")))
extern DLCORE_EMU_TLS uint3 threadIdx;
extern DLCORE_EMU_TLS uint3 blockIdx;
extern DLCORE_EMU_TLS uint3 blockDim;
extern DLCORE_EMU_TLS uint3 gridDim;
constexpr int warpSize = 32;

// ------------------------------------------------------------------------------------------------ scheduler entry points
namespace dlcore::emu {

enum class WarpOpKind : int8_t { Shfl, ShflUp, ShflDown, ShflXor, Ballot, Any, All, SyncWarp, Collective };

// Blocks the calling thread at a __syncthreads; returns the block-wide count of threads whose pred was nonzero
// (for __syncthreads_count/_and/_or).
int syncthreads(int pred);
// Blocks the calling lane at a warp collective; returns the lane's result bits.
uint64_t warp_op(WarpOpKind kind, unsigned mask, uint64_t value, int param, int width, const char* name);
// A user-defined warp collective (mma, ldmatrix): when all mask lanes wait, fn(lane_data[32], mask) runs once in
// the scheduler; lane_data[i] is what lane i passed (nullptr for lanes outside the mask).
void warp_collective(unsigned mask, void* data, void (*fn)(void** lane_data, unsigned mask), const char* name);
unsigned activemask();
int lane_id();
// The calling block's dynamic shared memory (poisoned with 0xFF bytes before every block).
unsigned char* dynamic_smem();
std::size_t dynamic_smem_size();
// Stops the launch with an error (the launch raises RuntimeError with this text).
[[noreturn]] void trap(const char* what);
// cp.async queue of the calling thread.
void cp_async(void* dst, const void* src, int bytes, int src_bytes);
void cp_async_commit();
void cp_async_wait(int n);

}  // namespace dlcore::emu

// ------------------------------------------------------------------------------------------------ synchronisation
inline void __syncthreads() { dlcore::emu::syncthreads(0); }
inline int __syncthreads_count(int pred) { return dlcore::emu::syncthreads(pred != 0); }
inline int __syncthreads_and(int pred) {
  // every live thread passes pred: count equals the number of threads that reached the barrier
  return dlcore::emu::syncthreads(pred == 0) == 0;
}
inline int __syncthreads_or(int pred) { return dlcore::emu::syncthreads(pred != 0) != 0; }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  dlcore::emu::warp_op(dlcore::emu::WarpOpKind::SyncWarp, mask, 0, 0, 32, "__syncwarp");
}
inline unsigned __activemask() { return dlcore::emu::activemask(); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __nanosleep(unsigned) {}
[[noreturn]] inline void __trap() { dlcore::emu::trap("__trap() called"); }
inline long long clock64() { return (long long)__builtin_ia32_rdtsc(); }

// ------------------------------------------------------------------------------------------------ warp shuffles
namespace dlcore::emu {
template <class T>
inline uint64_t to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp shuffles move at most 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
inline T from_bits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}
}  // namespace dlcore::emu

template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  using namespace dlcore::emu;
  return from_bits<T>(warp_op(WarpOpKind::Shfl, mask, to_bits(var), src_lane, width, "__shfl_sync"));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  using namespace dlcore::emu;
  return from_bits<T>(warp_op(WarpOpKind::ShflUp, mask, to_bits(var), (int)delta, width, "__shfl_up_sync"));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  using namespace dlcore::emu;
  return from_bits<T>(warp_op(WarpOpKind::ShflDown, mask, to_bits(var), (int)delta, width, "__shfl_down_sync"));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  using namespace dlcore::emu;
  return from_bits<T>(warp_op(WarpOpKind::ShflXor, mask, to_bits(var), lane_mask, width, "__shfl_xor_sync"));
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  using namespace dlcore::emu;
  return (unsigned)warp_op(WarpOpKind::Ballot, mask, pred != 0, 0, 32, "__ballot_sync");
}
inline int __any_sync(unsigned mask, int pred) {
  using namespace dlcore::emu;
  return (int)warp_op(WarpOpKind::Any, mask, pred != 0, 0, 32, "__any_sync");
}
inline int __all_sync(unsigned mask, int pred) {
  using namespace dlcore::emu;
  return (int)warp_op(WarpOpKind::All, mask, pred != 0, 0, 32, "__all_sync");
}

// ------------------------------------------------------------------------------------------------ atomics
// Real atomics (relaxed, like CUDA's), so blocks may later run on several OS threads.
#define DLCORE_EMU_ATOMIC_INT(T)                                                                   \
  inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }              \
  inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }              \
  inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }            \
  inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }              \
  inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }                \
  inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }              \
  inline T atomicCAS(T* p, T cmp, T v) {                                                            \
    __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);             \
    return cmp;                                                                                     \
  }                                                                                                 \
  inline T atomicMax(T* p, T v) {                                                                   \
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);                                                   \
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) { \
    }                                                                                               \
    return old;                                                                                     \
  }                                                                                                 \
  inline T atomicMin(T* p, T v) {                                                                   \
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);                                                   \
    while (old > v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) { \
    }                                                                                               \
    return old;                                                                                     \
  }
DLCORE_EMU_ATOMIC_INT(int)
DLCORE_EMU_ATOMIC_INT(unsigned)
DLCORE_EMU_ATOMIC_INT(long long)
DLCORE_EMU_ATOMIC_INT(unsigned long long)
#undef DLCORE_EMU_ATOMIC_INT

namespace dlcore::emu {
template <class F, class U, class Op>
inline F atomic_float_rmw(F* p, Op op) {
  static_assert(sizeof(F) == sizeof(U));
  U* q = reinterpret_cast<U*>(p);
  U old = __atomic_load_n(q, __ATOMIC_RELAXED);
  for (;;) {
    F f;
    std::memcpy(&f, &old, sizeof f);
    F n = op(f);
    U nb;
    std::memcpy(&nb, &n, sizeof nb);
    if (__atomic_compare_exchange_n(q, &old, nb, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return f;
  }
}
}  // namespace dlcore::emu
inline float atomicAdd(float* p, float v) {
  return dlcore::emu::atomic_float_rmw<float, uint32_t>(p, [v](float f) { return f + v; });
}
inline double atomicAdd(double* p, double v) {
  return dlcore::emu::atomic_float_rmw<double, uint64_t>(p, [v](double f) { return f + v; });
}
inline float atomicExch(float* p, float v) {
  return dlcore::emu::atomic_float_rmw<float, uint32_t>(p, [v](float) { return v; });
}
// float atomicMax/Min do not exist in CUDA; kernels use the int-punning idiom or CAS loops.
inline unsigned atomicInc(unsigned* p, unsigned limit) {
  unsigned old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &old, old >= limit ? 0u : old + 1u, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED)) {
  }
  return old;
}

// ------------------------------------------------------------------------------------------------ intrinsics
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __tanhf(float x) { return std::tanh(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x != x ? 0.0f : std::min(1.0f, std::max(0.0f, x)); }
inline int __float2int_rn(float x) { return (int)std::nearbyint(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
  return (x >> 16) | (x << 16);
}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
template <class T>
inline T __ldg(const T* p) { return *p; }
// CUDA's device-side min/max overloads.
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
