// The one wrapper header for inline PTX. Every wrapper has an emulated branch (the SIMT emulator, g++) written from
// the PTX ISA's documented fragment layouts, so tensor-core kernels run in CI. Needs sm_80+ on a real device.
//
// Notation: lane = threadIdx within the warp, g = lane / 4 ("groupID"), t = lane % 4 ("threadID_in_group").
//
// mma.sync m16n8k8 TF32 (A 16x8 row-major, B 8x8 column-major, C/D 16x8 float32):
//   a[0]=A[g][t]  a[1]=A[g+8][t]  a[2]=A[g][t+4]  a[3]=A[g+8][t+4]       (float32 bit patterns, TF32 used)
//   b[0]=B[t][g]  b[1]=B[t+4][g]
//   c[0]=C[g][2t] c[1]=C[g][2t+1] c[2]=C[g+8][2t] c[3]=C[g+8][2t+1]      (same for d)
// mma.sync m16n8k16 BF16/F16 (A 16x16, B 16x8; two 16-bit values per 32-bit register, the lower index in the low
// half):
//   a[0]={A[g][2t],A[g][2t+1]}  a[1]={A[g+8][2t],A[g+8][2t+1]}  a[2]={A[g][2t+8],A[g][2t+9]}  a[3]={A[g+8][2t+8],..}
//   b[0]={B[2t][g],B[2t+1][g]}  b[1]={B[2t+8][g],B[2t+9][g]}
//   c/d as for m16n8k8.
// ldmatrix.sync.m8n8.x{1,2,4}[.trans].b16: matrix m's 8 rows (16 bytes each) come from the addresses given by lanes
//   8m..8m+7; r[m] of lane receives {M[g][2t], M[g][2t+1]} (trans: {M[2t][g], M[2t+1][g]}).
// cp.async (4, 8 or 16 bytes, global -> shared, with optional zero fill when src_bytes < bytes); commit_group;
//   wait_group<N> (all but the N most recent groups complete). The emulator queues the copies per thread and
//   performs them at wait_group (or at thread exit), so a missing wait reads stale (poisoned) shared memory.
#pragma once
#include <cstdint>

#include "cuda/cuda_kernel.cuh"

#if defined(DLCORE_CUDA_EMULATED)
#include "core/dtype.h"
#endif

namespace dlcore::ptx {

#if defined(DLCORE_CUDA_EMULATED)
namespace emu_detail {

struct MmaLane {
  float* d;
  const uint32_t* a;
  const uint32_t* b;
  const float* c;
};

inline float tf32_of(uint32_t bits) {
  uint32_t t = bits & 0xffffe000u;  // TF32 keeps 10 mantissa bits
  float f;
  std::memcpy(&f, &t, 4);
  return f;
}
inline float f32_of(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Kind: 0 tf32 m16n8k8, 1 bf16 m16n8k16, 2 f16 m16n8k16.
template <int Kind>
void mma_resolve(void** lanes, unsigned) {
  constexpr int K = Kind == 0 ? 8 : 16;
  float A[16][K], B[K][8], C[16][8];
  auto half_lo = [](uint32_t r) -> float {
    return Kind == 1 ? (float)BFloat16::to_float((uint16_t)(r & 0xffff)) : Half::to_float((uint16_t)(r & 0xffff));
  };
  auto half_hi = [](uint32_t r) -> float {
    return Kind == 1 ? (float)BFloat16::to_float((uint16_t)(r >> 16)) : Half::to_float((uint16_t)(r >> 16));
  };
  for (int lane = 0; lane < 32; ++lane) {
    const MmaLane& L = *static_cast<const MmaLane*>(lanes[lane]);
    int g = lane / 4, t = lane % 4;
    if (Kind == 0) {
      A[g][t] = tf32_of(L.a[0]);
      A[g + 8][t] = tf32_of(L.a[1]);
      A[g][t + 4] = tf32_of(L.a[2]);
      A[g + 8][t + 4] = tf32_of(L.a[3]);
      B[t][g] = tf32_of(L.b[0]);
      B[t + 4][g] = tf32_of(L.b[1]);
    } else {
      for (int r = 0; r < 4; ++r) {
        int row = g + ((r & 1) ? 8 : 0), col = 2 * t + ((r & 2) ? 8 : 0);
        A[row][col] = half_lo(L.a[r]);
        A[row][col + 1] = half_hi(L.a[r]);
      }
      for (int r = 0; r < 2; ++r) {
        int row = 2 * t + (r ? 8 : 0);
        B[row][g] = half_lo(L.b[r]);
        B[row + 1][g] = half_hi(L.b[r]);
      }
    }
    C[g][2 * t] = L.c[0];
    C[g][2 * t + 1] = L.c[1];
    C[g + 8][2 * t] = L.c[2];
    C[g + 8][2 * t + 1] = L.c[3];
  }
  float D[16][8];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j) {
      float acc = C[i][j];
      for (int k = 0; k < K; ++k) acc = std::fma(A[i][k], B[k][j], acc);
      D[i][j] = acc;
    }
  for (int lane = 0; lane < 32; ++lane) {
    const MmaLane& L = *static_cast<const MmaLane*>(lanes[lane]);
    int g = lane / 4, t = lane % 4;
    L.d[0] = D[g][2 * t];
    L.d[1] = D[g][2 * t + 1];
    L.d[2] = D[g + 8][2 * t];
    L.d[3] = D[g + 8][2 * t + 1];
  }
}

struct LdmLane {
  const void* addr;
  uint32_t* r;
};

template <int N, bool Trans>
void ldmatrix_resolve(void** lanes, unsigned) {
  for (int m = 0; m < N; ++m) {
    uint16_t M[8][8];
    for (int row = 0; row < 8; ++row)
      std::memcpy(M[row], static_cast<const LdmLane*>(lanes[8 * m + row])->addr, 16);
    for (int lane = 0; lane < 32; ++lane) {
      int g = lane / 4, t = lane % 4;
      uint16_t lo = Trans ? M[2 * t][g] : M[g][2 * t];
      uint16_t hi = Trans ? M[2 * t + 1][g] : M[g][2 * t + 1];
      static_cast<const LdmLane*>(lanes[lane])->r[m] = (uint32_t)lo | ((uint32_t)hi << 16);
    }
  }
}

}  // namespace emu_detail
#endif

// d = A*B + c, m16n8k8, TF32 inputs (float32 registers; the low 13 mantissa bits are ignored), float32 accumulate.
__device__ __forceinline__ void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                 const float c[4]) {
#if defined(DLCORE_CUDA_EMULATED)
  emu_detail::MmaLane L{d, a, b, c};
  dlcore::emu::warp_collective(0xffffffffu, &L, &emu_detail::mma_resolve<0>, "mma.sync.m16n8k8.tf32");
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#else
  __trap();
#endif
}

// d = A*B + c, m16n8k16, bfloat16 inputs, float32 accumulate.
__device__ __forceinline__ void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                  const float c[4]) {
#if defined(DLCORE_CUDA_EMULATED)
  emu_detail::MmaLane L{d, a, b, c};
  dlcore::emu::warp_collective(0xffffffffu, &L, &emu_detail::mma_resolve<1>, "mma.sync.m16n8k16.bf16");
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#else
  __trap();
#endif
}

// d = A*B + c, m16n8k16, float16 inputs, float32 accumulate.
__device__ __forceinline__ void mma_m16n8k16_f16(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                 const float c[4]) {
#if defined(DLCORE_CUDA_EMULATED)
  emu_detail::MmaLane L{d, a, b, c};
  dlcore::emu::warp_collective(0xffffffffu, &L, &emu_detail::mma_resolve<2>, "mma.sync.m16n8k16.f16");
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#else
  __trap();
#endif
}

#if !defined(DLCORE_CUDA_EMULATED)
__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
#endif

// ldmatrix: N = 1, 2 or 4 8x8 matrices of 16-bit elements from shared memory; row_addr is this lane's row address
// (lanes 0..8N-1 supply rows; 16-byte aligned).
template <int N, bool Trans = false>
__device__ __forceinline__ void ldmatrix(uint32_t r[N], const void* row_addr) {
  static_assert(N == 1 || N == 2 || N == 4, "ldmatrix loads 1, 2 or 4 matrices");
#if defined(DLCORE_CUDA_EMULATED)
  emu_detail::LdmLane L{row_addr, r};
  dlcore::emu::warp_collective(0xffffffffu, &L, &emu_detail::ldmatrix_resolve<N, Trans>,
                               Trans ? "ldmatrix.trans" : "ldmatrix");
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 750
  unsigned a = smem_addr(row_addr);
  if constexpr (N == 1 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(a));
  else if constexpr (N == 1 && Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(a));
  else if constexpr (N == 2 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(a));
  else if constexpr (N == 2 && Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(a));
  else if constexpr (N == 4 && !Trans)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
#else
  __trap();
#endif
}

// Asynchronous copy of Bytes (4, 8 or 16) from global to shared memory; only src_bytes are read, the rest of the
// destination is zero-filled (src_bytes = 0: pure zero fill, for out-of-range tiles).
template <int Bytes>
__device__ __forceinline__ void cp_async(void* smem_dst, const void* gmem_src, int src_bytes = Bytes) {
  static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async copies 4, 8 or 16 bytes");
#if defined(DLCORE_CUDA_EMULATED)
  dlcore::emu::cp_async(smem_dst, gmem_src, Bytes, src_bytes);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  unsigned a = smem_addr(smem_dst);
  if constexpr (Bytes == 16)
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(a), "l"(gmem_src), "r"(src_bytes));
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(a), "l"(gmem_src), "n"(Bytes),
                 "r"(src_bytes));
#else
  __trap();
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if defined(DLCORE_CUDA_EMULATED)
  dlcore::emu::cp_async_commit();
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits until at most N of this thread's committed groups are still pending.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#if defined(DLCORE_CUDA_EMULATED)
  dlcore::emu::cp_async_wait(N);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

// float -> TF32 bit pattern, rounded to nearest (cvt.rna.tf32.f32).
__device__ __forceinline__ uint32_t to_tf32(float x) {
#if defined(DLCORE_CUDA_EMULATED)
  uint32_t b;
  std::memcpy(&b, &x, 4);
  if ((b & 0x7f800000u) != 0x7f800000u) b = (b + 0x1000u) & 0xffffe000u;  // round half away from zero
  return b;
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
#else
  return __float_as_uint(x);
#endif
}

}  // namespace dlcore::ptx
