// The direct small-channel convolution kernels (conv_direct_impl.inc) compiled for avx2 and registered in
// conv_direct_tables() for Isa::AVX2.
#include "core/x86_intrin.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/parallel.h"
#include "core/simd_transpose.h"
#include "ops/conv/conv_direct.h"

#define DLCORE_CONV_VL 8
#define DLCORE_CONV_FWD_KB 4
#define DLCORE_CONV_WG_KB 2
#define DLCORE_CONV_WG_SB 5

namespace dlcore {
namespace conv_direct_avx2 {
namespace {
#include "ops/conv/conv_direct_impl.inc"

}  // namespace

// Called by conv_direct_tables() (generic code) only on a CPU that runs avx2.
void register_kernels(ConvDirectTables& t) {
  t.forward.fn[(int)Isa::AVX2] = &conv_direct_forward;
  t.weight.fn[(int)Isa::AVX2] = &conv_direct_weight;
  t.dw_forward.fn[(int)Isa::AVX2] = &conv_depthwise_forward;
  t.dw_input.fn[(int)Isa::AVX2] = &conv_depthwise_backward_input;
  t.dw_weight.fn[(int)Isa::AVX2] = &conv_depthwise_backward_weight;
}
}  // namespace conv_direct_avx2
}  // namespace dlcore
