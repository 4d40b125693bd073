// bfloat16 GEMM on the CPU (AVX512-BF16; gemm_bf16_avx512bf16.cpp has the kernel and its loops).
#pragma once
#include <cstdint>

#include "ops/gemm/gemm.h"

namespace dlcore {
namespace gemm_bf16 {

// Whether this CPU runs the kernel (cpuid AVX512_BF16 with the OS's AVX-512 state) and the active ISA is avx512
// (DLCORE_ISA=avx2|scalar turns it off, so the float32 route stays testable on this machine).
bool available();

// C[m * ldc + n] = sum_k A[m, k] B[k, n] in float32 (A element (m, k) at A[m * rs_a + k * cs_a], B's (k, n) at
// B[k * rs_b + n * cs_b]; bf16 bit patterns). threads: 0 = the pool's count.
void gemm_bf16_f32(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t rs_a, int64_t cs_a,
                   const uint16_t* B, int64_t rs_b, int64_t cs_b, float* C, int64_t ldc, int threads);

// out[m * ldo + n] = bf16(relu?(alpha A B + beta out_old + bias)), rounded once (the epilogue runs in the
// microkernel's store). c32: float32 scratch of M x N (row stride N) when K > kc_block(), else may be null.
void gemm_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t rs_a, int64_t cs_a, const uint16_t* B,
               int64_t rs_b, int64_t cs_b, uint16_t* out, int64_t ldo, float alpha, float beta, const float* bias,
               BiasKind bias_kind, bool relu, float* c32, int threads);
int64_t kc_block();

// dst[i] = BFloat16(src[i]) for i < n (AVX-512; only where available()).
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n);
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);
// out[i] = bf16(a[i] op b[i]) (b null: a[i] op scalar) computed in float32, op 0..3 = add, sub, mul, div
// (AVX-512; where available()).
void bf16_arith(int op, const uint16_t* a, const uint16_t* b, float scalar, uint16_t* out, int64_t n);

// out[m * rs_o + n * cs_o] = bf16(relu?(alpha c[m * ldc + n] + beta out_old + bias)), rounded to nearest even
// (NaN kept quiet) exactly as the BFloat16 conversion of core/dtype.h; beta == 0 never reads out.
void store_bf16(int64_t M, int64_t N, const float* c, int64_t ldc, uint16_t* out, int64_t rs_o, int64_t cs_o,
                float alpha, float beta, const float* bias, BiasKind bias_kind, bool relu);

}  // namespace gemm_bf16
}  // namespace dlcore
