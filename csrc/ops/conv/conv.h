// 2-D convolution (cross-correlation, as in PyTorch) and its gradients. conv1d is a conv2d with H = 1.
//
// Layout NCHW. Letters:
//   x  [N, C, H, W]       input                 w  [K, C/G, R, S]   weight (K output channels, G groups)
//   y  [N, K, P, Q]       output                b  [K]              bias (optional)
//   stride (sh, sw), dilation (dh, dw), padding (pt, pb) on H and (pl, pr) on W (asymmetric allowed: "same" with
//   an even effective kernel pads one more at the end, like PyTorch).
//   P = (H + pt + pb - dh*(R-1) - 1) / sh + 1        Q = (W + pl + pr - dw*(S-1) - 1) / sw + 1
//
// Formulas (g = k / (K/G) is the group of output channel k, c runs over that group's C/G input channels):
//   y[n,k,p,q]  = b[k] + sum_{c,r,s} w[k,c,r,s] * x[n, g*C/G + c, p*sh - pt + r*dh, q*sw - pl + s*dw]
//   gx[n,ci,i,j] = sum over every (k,p,q,r,s) whose tap lands on (i,j) of w[k,c,r,s] * gy[n,k,p,q]
//   gw[k,c,r,s] = sum_{n,p,q} gy[n,k,p,q] * x[n, g*C/G + c, p*sh - pt + r*dh, q*sw - pl + s*dw]
//   gb[k]       = sum_{n,p,q} gy[n,k,p,q]
// Taps outside the input read zero (zero padding).
//
// Kernels (registered per device) take contiguous tensors of one float dtype; the front-end (conv2d(),
// conv2d_backward_input(), conv2d_backward_weight() below) checks shapes, dtypes and devices and makes operands
// contiguous. CPU algorithms (conv_cpu.cpp): im2col + GEMM per (sample, group) as the reference path, 1x1 stride-1
// as a plain GEMM on the input, and direct AVX2/AVX-512 kernels for small input-channel counts (conv_direct_*.cpp).
#pragma once
#include <cstdint>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

struct ConvParams {
  int64_t N = 0, C = 0, H = 0, W = 0;  // input
  int64_t K = 0, R = 0, S = 0;         // weight [K, C/G, R, S]
  int64_t G = 1;                       // groups
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  int64_t P = 0, Q = 0;                // output
  int64_t Cg() const { return C / G; }
  int64_t Kg() const { return K / G; }
};

// Output extent of one spatial dimension (may be <= 0 for a kernel larger than the padded input).
DLCORE_HOSTDEV int64_t conv_out_size(int64_t in, int64_t pad_begin, int64_t pad_end, int64_t kernel, int64_t stride,
                                     int64_t dilation) {
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t padded = in + pad_begin + pad_end;
  if (padded < span) return 0;
  return (padded - span) / stride + 1;
}

// Device kernels (contiguous operands, dtype float32/float64).
// gw and gb may each be null (not wanted); gw/gb are overwritten.
using ConvForwardFn = void(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p);
using ConvBackwardInputFn = void(const Tensor& gx, const Tensor& gy, const Tensor& w, const ConvParams& p);
using ConvBackwardWeightFn = void(const Tensor* gw, const Tensor* gb, const Tensor& gy, const Tensor& x,
                                  const ConvParams& p);
inline Op<ConvForwardFn> conv2d_forward_op{"conv2d"};
inline Op<ConvBackwardInputFn> conv2d_backward_input_op{"conv2d_backward_input"};
inline Op<ConvBackwardWeightFn> conv2d_backward_weight_op{"conv2d_backward_weight"};

// CPU algorithm choice (tests and benchmarks pin one; Auto picks per shape). A pinned algorithm that does not apply
// to a shape falls back to im2col.
enum class ConvAlgorithm : int { Auto = 0, Im2col = 1, Direct = 2, Winograd = 3 };
void set_conv_algorithm(ConvAlgorithm a);
ConvAlgorithm conv_algorithm();

// Front-end. stride/dilation: 2 values; padding: 4 values (top, bottom, left, right).
struct ConvArgs {
  int64_t stride[2] = {1, 1};
  int64_t dilation[2] = {1, 1};
  int64_t padding[4] = {0, 0, 0, 0};
  int64_t groups = 1;
};
// Checks x [N, C, H, W] and w [K, C/G, R, S] (and b [K]) and fills the parameters; raises naming `op`.
ConvParams conv_params(const char* op, const IntList& x_shape, const IntList& w_shape, const ConvArgs& a);
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const ConvArgs& a, const char* op = "conv2d");
// gx of shape x_shape for gy [N, K, P, Q].
Tensor conv2d_backward_input(const Tensor& gy, const Tensor& w, const IntList& x_shape, const ConvArgs& a,
                             const char* op = "conv2d");
// (gw of shape w_shape when want_w, gb [K] when want_b); undefined tensors for the ones not wanted.
void conv2d_backward_weight(const Tensor& gy, const Tensor& x, const IntList& w_shape, const ConvArgs& a, bool want_w,
                            bool want_b, Tensor& gw, Tensor& gb, const char* op = "conv2d");

// Argument checks shared by the conv entry points (conv_ops.cpp, conv3d_cpu.cpp): t has ref's dtype and device;
// t is float32 or float64. The messages name the op and both tensors.
void conv_check_same(const char* op, const char* what, const Tensor& ref, const char* ref_name, const Tensor& t);
void conv_check_float(const char* op, const Tensor& t, const char* what);

}  // namespace dlcore
