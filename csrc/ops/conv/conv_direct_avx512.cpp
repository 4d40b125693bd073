// The direct small-channel convolution kernels (conv_direct_impl.inc) compiled for avx512 twice, with 256-bit and
// with 512-bit vectors, and registered in conv_direct_tables() for Isa::AVX512; the 512-bit ones are installed on
// every AVX-512 core. Measured, 1 thread (bench/README.md): on Sapphire Rapids (full-width 512-bit FMAs) alexnet1
// conv1 and the lecture layer ~1.8x faster with 512-bit vectors; on Zen 4, which splits a 512-bit FMA in two
// 256-bit halves (same FLOP peak either way), 512-bit vectors still win by halving the loads, broadcasts and loop
// overhead per FMA and by the channels-in-lanes weight gradient that needs 16 lanes: forward 1.03-1.29x, fwd+bwd
// 1.05-1.12x on alexnet1, a 7x7/2 stem, VGG's and CIFAR's first layers (A/B in one process, 2026-12-06); only the
// lecture layer (24-wide rows = three 8-lane vectors exactly) is 5% slower forward, 1% fwd+bwd.
#include "core/x86_intrin.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "core/parallel.h"
#include "core/simd_transpose.h"
#include "ops/conv/conv_direct.h"

// The same register blocks for both widths (32 registers: 24 accumulators).
#define DLCORE_CONV_FWD_KB 8
#define DLCORE_CONV_WG_KB 4
#define DLCORE_CONV_WG_SB 6

namespace dlcore {
namespace conv_direct_avx512 {

namespace v8 {
namespace {
// (the 256-bit instance registers no depthwise kernels: the 512-bit ones serve every AVX-512 core)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#define DLCORE_CONV_VL 8
#include "ops/conv/conv_direct_impl.inc"
#undef DLCORE_CONV_VL
#pragma GCC diagnostic pop
}  // namespace
}  // namespace v8

namespace v16 {
namespace {
#define DLCORE_CONV_VL 16
#include "ops/conv/conv_direct_impl.inc"
#undef DLCORE_CONV_VL
}  // namespace
}  // namespace v16

// Called by conv_direct_tables() (generic code) only on a CPU that runs avx512; the caller installs a width.
void register_kernels(ConvDirectTables& t) {
  t.forward512[0] = &v8::conv_direct_forward;
  t.weight512[0] = &v8::conv_direct_weight;
  t.forward512[1] = &v16::conv_direct_forward;
  t.weight512[1] = &v16::conv_direct_weight;
  t.dw_forward.fn[(int)Isa::AVX512] = &v16::conv_depthwise_forward;
  t.dw_input.fn[(int)Isa::AVX512] = &v16::conv_depthwise_backward_input;
  t.dw_weight.fn[(int)Isa::AVX512] = &v16::conv_depthwise_backward_weight;
}

}  // namespace conv_direct_avx512
}  // namespace dlcore
