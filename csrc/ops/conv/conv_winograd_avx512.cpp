// Winograd F(2x2, 3x3) (conv_winograd_impl.inc) compiled for avx512 and registered in winograd_tables<T>() for
// Isa::AVX512.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/parallel.h"
#include "ops/conv/conv_winograd.h"
#include "ops/gemm/gemm.h"

namespace dlcore {
namespace conv_winograd_avx512 {
namespace {
#include "ops/conv/conv_winograd_impl.inc"
}  // namespace

// Called by winograd_tables<T>() (generic code) only on a CPU that runs avx512.
void register_kernels(IsaTable<const WinogradKernels<float>>& f, IsaTable<const WinogradKernels<double>>& d) {
  f.fn[(int)Isa::AVX512] = &kernels<float>;
  d.fn[(int)Isa::AVX512] = &kernels<double>;
}
}  // namespace conv_winograd_avx512
}  // namespace dlcore
