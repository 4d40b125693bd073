// GEMM: C = alpha * op(A) op(B) + beta * C, then an optional fused epilogue (bias add, ReLU).
//
// Shapes (BLIS convention, general strides, in elements):
//   A is M x K, element (m, k) at A[m * rs_a + k * cs_a]
//   B is K x N, element (k, n) at B[k * rs_b + n * cs_b]
//   C is M x N, element (m, n) at C[m * rs_c + n * cs_c]
// A transposed operand is just swapped strides, so no caller ever copies to transpose. Strides may be any
// positive values (sliced operands); K = 0 gives C = beta * C (+ epilogue).
// beta == 0 means C is write-only: its old contents (even NaN) are never read.
//
// Epilogue, applied after alpha/beta: C[m, n] += bias[m] (BiasKind::PerRow) or bias[n] (BiasKind::PerCol), then
// C = max(C, 0) when relu is set. Layers use it to fuse Linear's bias and ReLU into the GEMM's store.
//
// Threads: the kernels use dlcore's thread pool (DLCORE_NUM_THREADS); called inside a parallel region they run
// on the calling thread.
#pragma once
#include <cstdint>

#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

enum class BiasKind : int8_t { None = 0, PerRow = 1, PerCol = 2 };

template <class T>
struct GemmEpilogue {
  const T* bias = nullptr;
  BiasKind bias_kind = BiasKind::None;
  bool relu = false;
};

void sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t rs_a, int64_t cs_a, const float* B,
           int64_t rs_b, int64_t cs_b, float beta, float* C, int64_t rs_c, int64_t cs_c,
           const GemmEpilogue<float>& ep = {});
void dgemm(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t rs_a, int64_t cs_a,
           const double* B, int64_t rs_b, int64_t cs_b, double beta, double* C, int64_t rs_c, int64_t cs_c,
           const GemmEpilogue<double>& ep = {});

// A leading dimension >= n whose byte size is not a multiple of 1 KiB, for an A operand copied once and then read
// in place by many GEMM calls (recurrent steps, a convolution's samples): rows 1 KiB apart map to the same L1 sets,
// and the GEMM would pack such an operand at every call.
template <class T>
inline int64_t padded_ld(int64_t n) {
  int64_t ld = n;
  if ((ld * (int64_t)sizeof(T)) % 1024 == 0) ld += 64 / (int64_t)sizeof(T);
  return ld;
}

template <class T>
inline void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rs_a, int64_t cs_a, const T* B,
                 int64_t rs_b, int64_t cs_b, T beta, T* C, int64_t rs_c, int64_t cs_c, const GemmEpilogue<T>& ep = {}) {
  if constexpr (sizeof(T) == 4) sgemm(M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c, ep);
  else dgemm(M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c, ep);
}

// The same with B given by rows: B[k, n] = b_rows[k][b_col0 + n] (rows of another array, read in place and packed
// by the GEMM: a convolution's im2col without the copy). C must be unit-stride along N for speed (any strides work).
void sgemm_rows(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t rs_a, int64_t cs_a,
                const float* const* b_rows, int64_t b_col0, float beta, float* C, int64_t rs_c, int64_t cs_c,
                const GemmEpilogue<float>& ep = {});
void dgemm_rows(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t rs_a, int64_t cs_a,
                const double* const* b_rows, int64_t b_col0, double beta, double* C, int64_t rs_c, int64_t cs_c,
                const GemmEpilogue<double>& ep = {});

template <class T>
inline void gemm_rows(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rs_a, int64_t cs_a,
                      const T* const* b_rows, int64_t b_col0, T beta, T* C, int64_t rs_c, int64_t cs_c,
                      const GemmEpilogue<T>& ep = {}) {
  if constexpr (sizeof(T) == 4) sgemm_rows(M, N, K, alpha, A, rs_a, cs_a, b_rows, b_col0, beta, C, rs_c, cs_c, ep);
  else dgemm_rows(M, N, K, alpha, A, rs_a, cs_a, b_rows, b_col0, beta, C, rs_c, cs_c, ep);
}

// Tensor-level entry used by matmul and the layers, registered per device:
// out[b] = alpha * a[b] @ b[b] + beta * out[b] for every batch index b; a is [B, M, K], b is [B, K, N] and out is
// [B, M, N], any strides (batch stride 0 broadcasts); bias (optional, 1-D) per ep.bias_kind.
struct GemmArgs {
  double alpha = 1.0, beta = 0.0;
  BiasKind bias_kind = BiasKind::None;
  bool relu = false;
};
// The store of one output element, shared by the CUDA kernels (the CPU microkernels apply the same rule inline):
// v = alpha * acc (+ beta * c_old, read only when beta != 0) (+ bias), then ReLU that keeps NaN (max(v, 0) with a
// NaN v staying NaN, as the CPU kernels do).
template <class S>
DLCORE_HOSTDEV S gemm_epilogue_value(S acc, S alpha, S beta, S c_old, bool has_bias, S bias, bool relu) {
  S v = alpha * acc;
  if (beta != S(0)) v += beta * c_old;
  if (has_bias) v += bias;
  if (relu && !(v > S(0))) v = (v != v) ? v : S(0);
  return v;
}

using BatchedGemmFn = void(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor* bias,
                           const GemmArgs& args);
inline Op<BatchedGemmFn> batched_gemm_op{"matmul"};

}  // namespace dlcore
