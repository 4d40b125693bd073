// AVX-512 GEMM microkernels (compiled with the AVX-512 flags; chosen at run time when the active ISA is avx512).
//
// Block-size table (Zen 4: 32 KiB L1D, 1 MiB L2 per core; 32 zmm registers):
//   float : MR = 12, NR = 32 (2 zmm)  24 accumulators + 2 B vectors; KC = 256, MC = 192, NC = 1024
//   double: MR = 12, NR = 16 (2 zmm)  24 accumulators + 2 B vectors; KC = 256, MC = 192, NC = 512
//   A micro-panel MR x KC (12 KiB float, 24 KiB double) stays in L1 while the microkernel sweeps the B block
//   KC x NC (1 MiB: the whole L2), which mostly stays in L2 (Zen 4's L3 catches what it evicts); A block MC x KC is
//   packed per MC rows. Measured on Zen 4 (1 thread, 5 interleaved rounds, 2026-12-06) against the former half-L2
//   blocks (float NC 512; double KC 192, NC 256): float 1024^3 +5%, 2048^3 +4-6%, 128 x 1024 x 1024 +3.5-14%,
//   1600 x 2048 x 128 +8%, the small shapes even; double 1024^3 and 2048^3 +8-10%. Driver::core_blocks caps the B
//   block at 1 MiB on cores with a larger L2 (Sapphire Rapids, 2 MiB: a 1.5 MiB block measured 5-8% slower there
//   on some shapes).
//   N edges of <= 8 floats (4 doubles) run on 256-bit vectors (twice the issue rate of a 512-bit FMA on Zen 4).
// Measured in isolation (bench: L1-resident panels) the 12 x 32 kernel runs at ~98% of the FMA peak, and at
// 95-98% sweeping a packed L2-resident B block.
#include "ops/gemm/gemm_simd.h"

namespace dlcore {
namespace gemm_detail {
namespace {
using KernS = SimdKernel<V512f, 12, 32, 256, 192, 1024>;
using KernD = SimdKernel<V512d, 12, 16, 256, 192, 512>;
}  // namespace

void sgemm_avx512(const GemmCall<float>& c) { Driver<KernS>::run(c); }
void dgemm_avx512(const GemmCall<double>& c) { Driver<KernD>::run(c); }
GemmBlocking gemm_blocking_avx512(bool dbl) {
  return dbl ? Driver<KernD>::blocking() : Driver<KernS>::blocking();
}

}  // namespace gemm_detail
}  // namespace dlcore
