// The CUDA GEMM's raw-pointer entry, for other CUDA families (conv, recurrent) and for the batched_gemm_op
// registration (gemm_cuda.cu). Plain C++ (no CUDA headers); defined only in CUDA builds (real or emulated).
//
// For every batch index i in [0, batch):
//   C_i = alpha * A_i @ B_i + beta * C_i, then the epilogue (ep.bias per row or per column, then ReLU)
// with A_i = A + i * sa (M x K, element (m, k) at A_i[m * rs_a + k * cs_a]), B_i = B + i * sb (K x N, (k, n) at
// B_i[k * rs_b + n * cs_b]) and C_i = C + i * sc (M x N, (m, n) at C_i[m * rs_c + n * cs_c]); the same contract
// as gemm.h's sgemm/dgemm: any strides (transposes are swapped strides; sa/sb = 0 broadcasts an operand),
// beta == 0 means C is write-only (never read, even NaN), K == 0 gives beta * C + epilogue. ep.bias is a device
// pointer of M (PerRow) or N (PerCol) contiguous values, shared by all batch entries. The output blocks of
// different batch entries must not overlap (sc == 0 with batch > 1 is a race).
//
// T: float, double, Half, BFloat16. Scalars (alpha, beta) are float for float/Half/BFloat16 and double for double;
// Half/BFloat16 accumulate in float32 on tensor cores (mma.sync m16n8k16) and round once at the store.
// float uses the SIMT kernels unless TF32 is allowed (gemm_cuda_set_allow_tf32, dlcore.backends.cuda.matmul.
// allow_tf32), then mma.sync m16n8k8 TF32. The kernel choice is in gemm_cuda.cu (gemm_cuda_pick).
// The work is queued on stream s (asynchronous on a real device, like any kernel launch).
#pragma once
#include <cstdint>

#include "core/dtype.h"
#include "cuda/runtime.h"
#include "ops/gemm/gemm.h"

namespace dlcore {

template <class T>
struct GemmCudaScalar {
  using type = float;
};
template <>
struct GemmCudaScalar<double> {
  using type = double;
};

template <class T>
void gemm_cuda(int64_t M, int64_t N, int64_t K, typename GemmCudaScalar<T>::type alpha, const T* A, int64_t rs_a,
               int64_t cs_a, const T* B, int64_t rs_b, int64_t cs_b, typename GemmCudaScalar<T>::type beta, T* C,
               int64_t rs_c, int64_t cs_c, const GemmEpilogue<T>& ep = {}, int64_t batch = 1, int64_t sa = 0,
               int64_t sb = 0, int64_t sc = 0, cuda::Stream s = cuda::current_stream());

extern template void gemm_cuda<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                                      const float*, int64_t, int64_t, float, float*, int64_t, int64_t,
                                      const GemmEpilogue<float>&, int64_t, int64_t, int64_t, int64_t, cuda::Stream);
extern template void gemm_cuda<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                                       const double*, int64_t, int64_t, double, double*, int64_t, int64_t,
                                       const GemmEpilogue<double>&, int64_t, int64_t, int64_t, int64_t,
                                       cuda::Stream);
extern template void gemm_cuda<Half>(int64_t, int64_t, int64_t, float, const Half*, int64_t, int64_t, const Half*,
                                     int64_t, int64_t, float, Half*, int64_t, int64_t, const GemmEpilogue<Half>&,
                                     int64_t, int64_t, int64_t, int64_t, cuda::Stream);
extern template void gemm_cuda<BFloat16>(int64_t, int64_t, int64_t, float, const BFloat16*, int64_t, int64_t,
                                         const BFloat16*, int64_t, int64_t, float, BFloat16*, int64_t, int64_t,
                                         const GemmEpilogue<BFloat16>&, int64_t, int64_t, int64_t, int64_t,
                                         cuda::Stream);

// TF32 for float32 inputs (off by default, like torch.backends.cuda.matmul.allow_tf32).
void gemm_cuda_set_allow_tf32(bool allow);
bool gemm_cuda_allow_tf32();

// Test hook: force a kernel variant for float32 ("auto" = the heuristic; "simt128", "simt64": the SIMT tile
// configs; "tf32": the tensor-core kernel even when TF32 is not allowed). float64 always runs its SIMT kernel,
// Half/BFloat16 always the m16n8k16 kernel. Bound as dlcore._C._gemm_cuda_set_variant.
enum class GemmCudaVariant : int { Auto = 0, Simt128 = 1, Simt64 = 2, Tf32 = 3 };
void gemm_cuda_set_variant(GemmCudaVariant v);
GemmCudaVariant gemm_cuda_variant();
// The variant the heuristic picks for a float32 problem (what gemm_cuda<float> runs when not forced).
GemmCudaVariant gemm_cuda_pick(int64_t M, int64_t N, int64_t K, int64_t batch);

}  // namespace dlcore
