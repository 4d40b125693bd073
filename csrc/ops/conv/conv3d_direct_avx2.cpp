// The direct float32 conv3d kernels (conv3d_direct_impl.inc: forward, weight gradient) compiled for avx2: VL 8
// floats, forward channel blocks of 4 (12 accumulators); registered in conv3d_direct_table() for Isa::AVX2.
#include "core/x86_intrin.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "core/simd_transpose.h"
#include "ops/conv/conv3d.h"

#define DLCORE_CONV3D_VL 8
#define DLCORE_CONV3D_KB 4

namespace dlcore {
namespace conv3d_direct_avx2 {
namespace {
#include "ops/conv/conv3d_direct_impl.inc"

}  // namespace

// Called by conv3d_direct_table() (generic code) only on a CPU that runs avx2.
void register_kernels(Conv3dDirectTable& t) {
  t.forward.fn[(int)Isa::AVX2] = &conv3d_direct_forward;
  t.weight.fn[(int)Isa::AVX2] = &conv3d_direct_weight;
  t.vl[(int)Isa::AVX2] = VL;
}
}  // namespace conv3d_direct_avx2
}  // namespace dlcore
