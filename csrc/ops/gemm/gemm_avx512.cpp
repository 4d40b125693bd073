// AVX-512 GEMM microkernels (compiled with the AVX-512 flags; chosen at run time when the active ISA is avx512).
//
// Block-size table (Zen 4: 32 KiB L1D, 1 MiB L2 per core; 32 zmm registers):
//   float : MR = 12, NR = 32 (2 zmm)  24 accumulators + 2 B vectors; KC = 256, MC = 192, NC = 3072
//   double: MR = 12, NR = 16 (2 zmm)  24 accumulators + 2 B vectors; KC = 256, MC = 96,  NC = 1536
//   B micro-panel KC x NR (32 KiB float) is reused by MC / MR A micro-panels; A block MC x KC lives in L2;
//   B block KC x NC in L2/L3.
#include "ops/gemm/gemm_simd.h"

namespace dlcore {
namespace gemm_detail {
namespace {
using KernS = SimdKernel<V512f, 12, 32, 256, 192, 3072>;
using KernD = SimdKernel<V512d, 12, 16, 256, 96, 1536>;
}  // namespace

void sgemm_avx512(const GemmCall<float>& c) { Driver<KernS>::run(c); }
void dgemm_avx512(const GemmCall<double>& c) { Driver<KernD>::run(c); }
GemmBlocking gemm_blocking_avx512(bool dbl) {
  if (dbl) return {KernD::MR, KernD::NR, KernD::KC, KernD::MC, KernD::NC};
  return {KernS::MR, KernS::NR, KernS::KC, KernS::MC, KernS::NC};
}

}  // namespace gemm_detail
}  // namespace dlcore
