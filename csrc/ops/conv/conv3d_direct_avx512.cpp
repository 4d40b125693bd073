// The direct float32 conv3d kernels (conv3d_direct_impl.inc: forward, weight gradient) compiled for avx512: VL 16
// floats, forward channel blocks of 8 (24 accumulators); registered in conv3d_direct_table() for Isa::AVX512.
#include "core/x86_intrin.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "core/simd_transpose.h"
#include "ops/conv/conv3d.h"

#define DLCORE_CONV3D_VL 16
#define DLCORE_CONV3D_KB 8

namespace dlcore {
namespace conv3d_direct_avx512 {
namespace {
#include "ops/conv/conv3d_direct_impl.inc"

}  // namespace

// Called by conv3d_direct_table() (generic code) only on a CPU that runs avx512.
void register_kernels(Conv3dDirectTable& t) {
  t.forward.fn[(int)Isa::AVX512] = &conv3d_direct_forward;
  t.weight.fn[(int)Isa::AVX512] = &conv3d_direct_weight;
  t.vl[(int)Isa::AVX512] = VL;
}
}  // namespace conv3d_direct_avx512
}  // namespace dlcore
