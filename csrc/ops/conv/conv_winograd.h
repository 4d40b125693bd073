// Winograd F(2x2, 3x3) convolution (Lavin & Gray 2015) for 3x3 stride-1 dilation-1 ungrouped layers (ResNet/VGG
// style). Each 2x2 output tile comes from a 4x4 input tile d:
//   y_tile = A^T [ U (.) V ] A,   U = G g G^T (per k, c),   V = B^T d B (per c, tile),   (.) elementwise over 16 xi
// so the convolution becomes 16 GEMMs over the xi positions: M[xi] (K x T) = U[xi] (K x C) @ V[xi] (C x T), with
// 2.25x fewer multiplications than im2col + GEMM. The gradients are the exact adjoints of the same linear maps:
//   input grad:  Mg = A gy_tile A^T;  Vg[xi] (C x T) = U[xi]^T @ Mg[xi];  gx += B Vg B^T (overlapping 4x4 tiles)
//   weight grad: dU[xi] (K x C) = sum_tiles Mg[xi] @ V[xi]^T;  gw = G^T dU G
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// Tiles: ceil(P/2) x ceil(Q/2) per sample; input tile (ty, tx) starts at (2ty - pt, 2tx - pl) (zeros outside);
// edge tiles write only their rows/columns inside P x Q. Samples are split over threads; each thread transforms a
// chunk of tiles and runs the 16 GEMMs on its own.
//
// Implementation: conv_winograd_impl.inc, compiled per ISA (baseline, AVX2, AVX-512) and chosen at run time; the
// transforms are unit-stride loops over whole tile planes that each TU's compiler flags vectorise. Tiles go in
// chunks of ~256 (several small samples, or a band of tile rows of a large one) so that a chunk's transform planes
// stay near L2 between the transforms and the 16 GEMMs; DLCORE_WINO_COLS overrides the chunk size (tests, tuning).
#pragma once
#include <cstddef>

#include "core/cpu_features.h"
#include "ops/conv/conv.h"

namespace dlcore {

inline bool conv_winograd_applies(const ConvParams& p) {
  return p.R == 3 && p.S == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.G == 1 && p.C >= 16 &&
         p.K >= 16 && p.P >= 2 && p.Q >= 2;
}

// Auto picks Winograd where it measured faster than im2col + GEMM on this machine (1 and 2 threads, fwd and
// fwd+bwd; bench/README.md "Convolution"): 1.2-1.7x on [32, 64..512, 56..7] and [8,64,112,112] layers, about 1.1x
// fwd+bwd (0.97x forward) at C = 32. It lost at C = 16 (0.55-0.9x: the 16 GEMMs have a 16-long reduction).
inline bool conv_winograd_preferred(const ConvParams& p) {
  return conv_winograd_applies(p) && p.C >= 32 && p.K >= 32;
}

template <class T>
struct WinogradKernels {
  void (*forward)(T* y, const T* x, const T* w, const T* b, const ConvParams& p);
  void (*backward_input)(T* gx, const T* gy, const T* w, const ConvParams& p);
  void (*backward_weight)(T* gw, const T* gy, const T* x, const ConvParams& p);
};
// The tables, filled on first use with the ISA builds this CPU runs (an ISA file's code must not run on a CPU
// without its ISA: see fill_isa_tables in core/cpu_features.h).
template <class T>
IsaTable<const WinogradKernels<T>>& winograd_tables();
namespace conv_winograd_avx2 {
void register_kernels(IsaTable<const WinogradKernels<float>>& f, IsaTable<const WinogradKernels<double>>& d);
}
namespace conv_winograd_avx512 {
void register_kernels(IsaTable<const WinogradKernels<float>>& f, IsaTable<const WinogradKernels<double>>& d);
}
// A per-thread buffer of at least n values that keeps its pages between calls (slots 0..4).
template <class T>
T* winograd_scratch(std::size_t n, int slot);

template <class T>
void conv_winograd_forward(T* y, const T* x, const T* w, const T* b, const ConvParams& p);
template <class T>
void conv_winograd_backward_input(T* gx, const T* gy, const T* w, const ConvParams& p);
template <class T>
void conv_winograd_backward_weight(T* gw, const T* gy, const T* x, const ConvParams& p);

}  // namespace dlcore
