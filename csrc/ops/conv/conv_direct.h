// Direct float32 convolution kernels for layers with few input channels (the lecture ConvNet's first layer:
// [64,1,28,28] 5x5 -> 20), where im2col + GEMM has a tiny reduction dimension (C*R*S = 25) and wastes the machine.
// Compiled per ISA (conv_direct_avx2.cpp, conv_direct_avx512.cpp from one source, conv_direct_impl.inc) and chosen
// at run time; the scalar ISA has none (the im2col path is the fallback).
//
// Contract: groups == 1, stride 1, dilation 1, any padding, contiguous NCHW operands, p.Q >= 1.
//   forward:        y = conv(x, w) + b                                  (b may be null)
//   weight grad:    gw = sum_n corr(gy, x)  (overwritten; may be null), gb = sum gy (overwritten; may be null)
// Both parallelise over the batch with dlcore's thread pool.
#pragma once
#include "core/cpu_features.h"
#include "ops/conv/conv.h"

namespace dlcore {

using ConvDirectForwardFn = void(float* y, const float* x, const float* w, const float* b, const ConvParams& p);
using ConvDirectWeightFn = void(float* gw, float* gb, const float* gy, const float* x, const ConvParams& p);

struct ConvDirectTables {
  IsaTable<ConvDirectForwardFn> forward;
  IsaTable<ConvDirectWeightFn> weight;
};
ConvDirectTables& conv_direct_tables();

// Whether the direct kernels apply to p (and are expected to beat im2col + GEMM).
inline bool conv_direct_applies(const ConvParams& p) {
  return p.G == 1 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.C <= 4 && p.Q >= 8 && p.K >= 1 &&
         p.S <= 16 && p.R * p.S * p.C <= 256;
}

}  // namespace dlcore
