// Winograd F(2x2, 3x3) (conv_winograd_impl.inc) compiled for avx2 and registered in winograd_tables<T>() for
// Isa::AVX2.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/parallel.h"
#include "ops/conv/conv_winograd.h"
#include "ops/gemm/gemm.h"

namespace dlcore {
namespace conv_winograd_avx2 {
namespace {
#include "ops/conv/conv_winograd_impl.inc"
const bool registered = register_kernels<float>(Isa::AVX2) &&
                        register_kernels<double>(Isa::AVX2);
}  // namespace
}  // namespace conv_winograd_avx2
}  // namespace dlcore
