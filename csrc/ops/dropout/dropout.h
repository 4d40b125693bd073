// Dropout with a counter-based RNG (Philox4x32-10, ops/random/philox.h): nothing random is stored.
//
// Element i of a contiguous tensor belongs to mask group r = i / group (group = 1 for dropout; the H*W plane for
// dropout2d, so a whole channel is kept or dropped). Group r draws the float32 uniform u_r = word r % 4 of Philox
// block (offset + r / 4) under key seed (the layout of random.h's uniform tensors):
//   keep_r = u_r >= p,   y_i = keep ? x_i / (1 - p) : 0,   backward: gx_i = keep ? g_i / (1 - p) : 0
// The forward reserves ceil(groups / 4) blocks from the default generator (so dlcore.manual_seed makes it
// reproducible and consecutive calls never share blocks); the backward regenerates the same mask from the
// (seed, offset) the forward used.
#pragma once
#include <cstdint>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "ops/random/philox.h"

namespace dlcore {

DLCORE_HOSTDEV bool dropout_keep(uint32_t word, float p) { return uniform_float(word) >= p; }

struct DropoutArgs {
  double p = 0.5;
  uint64_t seed = 0, offset = 0;
  int64_t group = 1;
};

// out = mask(x) (out may alias in). Contiguous, same shape and dtype.
using DropoutFn = void(const Tensor& out, const Tensor& in, const DropoutArgs& a);
inline Op<DropoutFn> dropout_op{"dropout"};

// ---- frontend ----
// Draws (seed, offset) from the default generator into a (a.seed/a.offset are outputs) and applies the mask.
Tensor dropout(const Tensor& x, DropoutArgs& a);
void dropout_(const Tensor& x, DropoutArgs& a);
// Applies the mask of (a.seed, a.offset) again (the backward: g -> gx).
Tensor dropout_apply(const Tensor& g, const DropoutArgs& a);

}  // namespace dlcore
