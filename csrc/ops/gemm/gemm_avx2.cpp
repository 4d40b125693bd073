// AVX2+FMA GEMM microkernels (compiled with the AVX2 flags; chosen at run time when the active ISA is avx2).
//
// Block-size table (16 ymm registers):
//   float : MR = 6, NR = 16 (2 ymm)  12 accumulators + 2 B vectors + 1 broadcast; KC = 256, MC = 192, NC = 512
//   double: MR = 6, NR = 8  (2 ymm)  same register budget;                       KC = 256, MC = 96,  NC = 256
//   A micro-panel MR x KC in L1, B block KC x NC in L2 (see gemm_driver.h).
#include "ops/gemm/gemm_simd.h"

namespace dlcore {
namespace gemm_detail {
namespace {
using KernS = SimdKernel<V256f, 6, 16, 256, 192, 512>;
using KernD = SimdKernel<V256d, 6, 8, 256, 96, 256>;
}  // namespace

void sgemm_avx2(const GemmCall<float>& c) { Driver<KernS>::run(c); }
void dgemm_avx2(const GemmCall<double>& c) { Driver<KernD>::run(c); }
GemmBlocking gemm_blocking_avx2(bool dbl) {
  return dbl ? Driver<KernD>::blocking() : Driver<KernS>::blocking();
}

}  // namespace gemm_detail
}  // namespace dlcore
