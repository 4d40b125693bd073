// Direct float32 convolution kernels for layers with few input channels (the lecture ConvNet's first layer:
// [64,1,28,28] 5x5 -> 20), where im2col + GEMM has a tiny reduction dimension (C*R*S = 25) and wastes the machine.
// Compiled per ISA (conv_direct_avx2.cpp, conv_direct_avx512.cpp from one source, conv_direct_impl.inc) and chosen
// at run time; the scalar ISA has none (the im2col path is the fallback).
//
// Contract: groups == 1, any stride, dilation and padding, S <= 16, R <= 64, contiguous NCHW operands, p.Q >= 1. Strided
// layers (AlexNet's conv1: 3 -> 64 channels, 11x11, stride 4) read a polyphase copy of the input in which every
// tap's pixels along an output row are contiguous (conv_direct_impl.inc).
//   forward:        y = conv(x, w) + b                                  (b may be null)
//   weight grad:    gw = sum_n corr(gy, x)  (overwritten; may be null), gb = sum gy (overwritten; may be null)
// Both parallelise over the batch with dlcore's thread pool.
#pragma once
#include "core/cpu_features.h"
#include "ops/conv/conv.h"

namespace dlcore {

using ConvDirectForwardFn = void(float* y, const float* x, const float* w, const float* b, const ConvParams& p);
using ConvDirectWeightFn = void(float* gw, float* gb, const float* gy, const float* x, const ConvParams& p);

using ConvDepthwiseInputFn = void(float* gx, const float* gy, const float* w, const ConvParams& p);
using ConvDepthwiseWeightFn = void(float* gw, const float* gy, const float* x, const ConvParams& p);

struct ConvDirectTables {
  IsaTable<ConvDirectForwardFn> forward;
  IsaTable<ConvDirectWeightFn> weight;
  // Depthwise (conv_depthwise_applies; the AVX-512 build's 16-lane kernels on every AVX-512 core).
  IsaTable<ConvDirectForwardFn> dw_forward;
  IsaTable<ConvDepthwiseInputFn> dw_input;
  IsaTable<ConvDepthwiseWeightFn> dw_weight;
  // The AVX-512 build's two vector widths ([0]: 256-bit, [1]: 512-bit); the AVX512 entries above hold one of them.
  ConvDirectForwardFn* forward512[2] = {};
  ConvDirectWeightFn* weight512[2] = {};
  int avx512_vl = 0;  // 8 or 16: which one is installed
};
// The tables, filled on first use with the ISA builds this CPU runs (an ISA file's code must not run on a CPU
// without its ISA: see fill_isa_tables in core/cpu_features.h); AVX-512 with the 512-bit kernels installed.
ConvDirectTables& conv_direct_tables();
namespace conv_direct_avx2 { void register_kernels(ConvDirectTables& t); }
namespace conv_direct_avx512 { void register_kernels(ConvDirectTables& t); }
// Installs the AVX-512 kernels of vector width vl (8 or 16) (tests: both widths run on any AVX-512 machine).
void conv_direct_set_avx512_vl(int vl);

// Whether the direct kernels apply to p (and are expected to beat im2col + GEMM).
// Stride 1: up to 256 taps (the lecture layer); strided: up to 512 taps (AlexNet conv1 has 363; measured 1.3-1.4x
// faster than im2col + GEMM there, bench/README.md). Dilation is supported with either.
inline bool conv_direct_applies(const ConvParams& p) {
  if (p.G != 1 || p.C > 4 || p.Q < 8 || p.K < 1 || p.S > 16 || p.R > 64) return false;
  if (p.sh == 1 && p.sw == 1) return p.dh == 1 && p.dw == 1 && p.R * p.S * p.C <= 256;
  return p.R * p.S * p.C <= 512;
}

// Depthwise layers (groups == C, K a multiple of C), any stride, padding and dilation, float32: the per-plane
// kernels of conv_direct_impl.inc (forward, input and weight gradients); im2col + GEMM ran one tiny GEMM per channel
// (0.2-0.5x torch).
inline bool conv_depthwise_applies(const ConvParams& p) {
  return p.G == p.C && p.G > 1 && p.K % p.C == 0 && p.P >= 1 && p.Q >= 1;
}
// The input gradient's direct form (the correlation of padded gy with the flipped kernel, written straight into gx)
// needs stride 1 and the padding within the kernel's extent ((R-1) dh >= pt, ..., as a 'same' or 'valid' layer
// has); other layers go through the phase planes.
inline bool conv_depthwise_input_flipped(const ConvParams& p) {
  return p.sh == 1 && p.sw == 1 && (p.R - 1) * p.dh >= p.pt && (p.S - 1) * p.dw >= p.pl &&
         (p.R - 1) * p.dh >= p.pb && (p.S - 1) * p.dw >= p.pr;
}

}  // namespace dlcore
