// 3-D convolution (cross-correlation, as in PyTorch) and its gradients on the CPU, without a copy of the input per
// kernel-depth tap (python/dlcore/_nn_3d.py used to fold the kernel depth into conv2d's channels: a kD-times gather
// copy of the input, then im2col of that).
//
// Layout NCDHW. Letters:
//   x  [N, C, D, H, W]        input          w  [K, C/G, T, R, S]   weight (T x R x S taps over depth, height, width)
//   y  [N, K, O, P, Q]        output         b  [K]                 bias (optional)
//   stride (sd, sh, sw), dilation (dd, dh, dw), padding (pd0, pd1) on D, (pt, pb) on H, (pl, pr) on W.
//   O = (D + pd0 + pd1 - dd (T-1) - 1) / sd + 1, likewise P (H) and Q (W).
// Formulas (g the group of output channel k, c over that group's C/G channels):
//   y[n,k,o,p,q]  = b[k] + sum_{c,t,r,s} w[k,c,t,r,s] x[n, gC/G + c, o sd - pd0 + t dd, p sh - pt + r dh,
//                                                      q sw - pl + s dw]
//   gx = the adjoint of that map applied to gy;   gw[k,c,t,r,s] = sum_{n,o,p,q} gy[n,k,o,p,q] x[...same index...];
//   gb[k] = sum_{n,o,p,q} gy[n,k,o,p,q].   Taps outside the input read zero.
//
// Algorithms (conv3d_cpu.cpp):
//   * float32 on CPUs with AVX2 / AVX-512 (conv3d_direct_impl.inc), over a zero-padded copy of each sample (its rows
//     split into width-stride phases): the forward with output pixels in the vector lanes, every (c, t, r, s) tap
//     one unaligned load per output vector and one broadcast weight per output channel; the weight gradient with
//     output channels in the lanes (an outer product of broadcast inputs and transposed gy per tap block). Chosen
//     where the lanes are used well (output rows, resp. output channels per group, fill >= 3/4 of the vectors of
//     the active ISA or of AVX2's 8 lanes). The input gradient of a layer with unit strides (and padding within
//     the kernel's extent) is the forward kernel: the correlation of gy, padded by dd (T-1) - pd0 etc., with the
//     flipped kernel, input and output channels swapped.
//   * otherwise (float64, other input gradients, poorly filled lanes) vol2col + GEMM per sample, group and block of
//     output depths: col[c,r,s][j][p,q] holds the 2-D im2col of input depth slice j of the block's window, computed
//     once and read by every depth tap t (no kD-times copy): the forward is one GEMM whose B rows are rows of col
//     (gemm_rows), the input gradient GEMMs into col and scatters it back (col2vol), and the weight gradient is
//     per depth tap  gw_t^T [CRS, Kg] += col_t [CRS, L] @ gy^T [L, Kg]  over the block's L = (output depths) P Q.
//   * 1x1x1 kernels with unit strides and no padding: one GEMM per sample and group on the input itself.
// Threads: the batch is split over the pool's threads when N >= threads (each thread its own buffers; weight
// gradients summed from per-thread partials); otherwise GEMMs use the pool. The direct kernels take one sample at
// a time and split its output rows (forward) or row chunks (weight gradient, per-thread partials) over the threads.
#pragma once
#include <cstdint>

#include "core/common.h"
#include "core/cpu_features.h"
#include "core/tensor.h"

namespace dlcore {

struct Conv3dParams {
  int64_t N = 0, C = 0, D = 0, H = 0, W = 0;  // input
  int64_t K = 0, T = 0, R = 0, S = 0;         // weight [K, C/G, T, R, S]
  int64_t G = 1;
  int64_t sd = 1, sh = 1, sw = 1, dd = 1, dh = 1, dw = 1;
  int64_t pd0 = 0, pd1 = 0, pt = 0, pb = 0, pl = 0, pr = 0;
  int64_t O = 0, P = 0, Q = 0;  // output
  int64_t Cg() const { return C / G; }
  int64_t Kg() const { return K / G; }
};

// The direct float32 forward kernel (per ISA): y = conv3d(x, w) + b (b may be null), contiguous operands.
using Conv3dDirectFn = void(float* y, const float* x, const float* w, const float* b, const Conv3dParams& p);
// The direct float32 weight gradient (per ISA): gw [K, C/G, T, R, S] overwritten, contiguous operands.
using Conv3dDirectWeightFn = void(float* gw, const float* gy, const float* x, const Conv3dParams& p);
struct Conv3dDirectTable {
  IsaTable<Conv3dDirectFn> forward;
  IsaTable<Conv3dDirectWeightFn> weight;
  int vl[kNumIsas] = {};  // vector lanes of each ISA's kernel (its row efficiency decides whether it applies)
};
// The table, filled on first use with the ISA builds this CPU runs (an ISA file's code must not run on a CPU without
// its ISA: see fill_isa_tables in core/cpu_features.h).
Conv3dDirectTable& conv3d_direct_table();
namespace conv3d_direct_avx2 { void register_kernels(Conv3dDirectTable& t); }
namespace conv3d_direct_avx512 { void register_kernels(Conv3dDirectTable& t); }

// Algorithm choice for tests ("auto", "gemm": never the direct kernel).
void conv3d_set_algorithm(int a);  // 0 auto, 1 gemm
int conv3d_algorithm();

// Front-end (CPU tensors; checks shapes, dtypes and devices, makes operands contiguous). stride, dilation: 3 values;
// padding: 6 values (depth begin, end, top, bottom, left, right).
struct Conv3dArgs {
  int64_t stride[3] = {1, 1, 1};
  int64_t dilation[3] = {1, 1, 1};
  int64_t padding[6] = {0, 0, 0, 0, 0, 0};
  int64_t groups = 1;
};
Conv3dParams conv3d_params(const char* op, const IntList& x_shape, const IntList& w_shape, const Conv3dArgs& a);
Tensor conv3d_cpu(const Tensor& x, const Tensor& w, const Tensor* b, const Conv3dArgs& a, const char* op);
Tensor conv3d_backward_input_cpu(const Tensor& gy, const Tensor& w, const IntList& x_shape, const Conv3dArgs& a,
                                 const char* op);
void conv3d_backward_weight_cpu(const Tensor& gy, const Tensor& x, const IntList& w_shape, const Conv3dArgs& a,
                                bool want_w, bool want_b, Tensor& gw, Tensor& gb, const char* op);

}  // namespace dlcore
