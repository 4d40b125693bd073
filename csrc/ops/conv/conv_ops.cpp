// conv2d front-end: argument checks with clear messages, output allocation, dispatch to the device kernel.
#include <algorithm>

#include "ops/conv/conv.h"

namespace dlcore {

ConvParams conv_params(const char* op, const IntList& xs, const IntList& ws, const ConvArgs& a) {
  DLCORE_CHECK(xs.size() == 4, ValueError, op, ": expected a 4-D input [N, C, H, W], got shape ", xs.str());
  DLCORE_CHECK(ws.size() == 4, ValueError, op, ": expected a 4-D weight [out_channels, in_channels/groups, kH, kW], "
               "got shape ", ws.str());
  DLCORE_CHECK(a.groups >= 1, ValueError, op, ": groups must be a positive integer, got ", a.groups);
  for (int i = 0; i < 2; ++i) {
    DLCORE_CHECK(a.stride[i] >= 1, ValueError, op, ": stride must be positive, got (", a.stride[0], ", ", a.stride[1],
                 ")");
    DLCORE_CHECK(a.dilation[i] >= 1, ValueError, op, ": dilation must be positive, got (", a.dilation[0], ", ",
                 a.dilation[1], ")");
  }
  for (int i = 0; i < 4; ++i)
    DLCORE_CHECK(a.padding[i] >= 0, ValueError, op, ": padding must be non-negative, got (", a.padding[0], ", ",
                 a.padding[1], ", ", a.padding[2], ", ", a.padding[3], ") (top, bottom, left, right)");
  ConvParams p;
  p.N = xs[0]; p.C = xs[1]; p.H = xs[2]; p.W = xs[3];
  p.K = ws[0]; p.R = ws[2]; p.S = ws[3];
  p.G = a.groups;
  DLCORE_CHECK(p.K >= 1 && p.R >= 1 && p.S >= 1, ValueError, op, ": weight shape ", ws.str(),
               " has an empty dimension");
  DLCORE_CHECK(p.C % p.G == 0, ValueError, op, ": in_channels (", p.C, ") must be divisible by groups (", p.G, ")");
  DLCORE_CHECK(p.K % p.G == 0, ValueError, op, ": out_channels (", p.K, ") must be divisible by groups (", p.G, ")");
  DLCORE_CHECK(ws[1] * p.G == p.C, ValueError, op, ": weight shape ", ws.str(), " expects ", ws[1] * p.G,
               " input channels (", ws[1], " per group x ", p.G, " groups), but the input shape ", xs.str(), " has ",
               p.C);
  p.sh = a.stride[0]; p.sw = a.stride[1];
  p.dh = a.dilation[0]; p.dw = a.dilation[1];
  p.pt = a.padding[0]; p.pb = a.padding[1]; p.pl = a.padding[2]; p.pr = a.padding[3];
  int64_t span_h = p.dh * (p.R - 1) + 1, span_w = p.dw * (p.S - 1) + 1;
  DLCORE_CHECK(p.H + p.pt + p.pb >= span_h && p.W + p.pl + p.pr >= span_w, ValueError, op,
               ": kernel size (", p.R, ", ", p.S, ") with dilation (", p.dh, ", ", p.dw, ") spans (", span_h, ", ",
               span_w, "), larger than the padded input (", p.H + p.pt + p.pb, ", ", p.W + p.pl + p.pr,
               ") of input shape ", xs.str());
  p.P = conv_out_size(p.H, p.pt, p.pb, p.R, p.sh, p.dh);
  p.Q = conv_out_size(p.W, p.pl, p.pr, p.S, p.sw, p.dw);
  return p;
}

void conv_check_same(const char* op, const char* what, const Tensor& ref, const char* ref_name, const Tensor& t) {
  DLCORE_CHECK(t.dtype() == ref.dtype(), TypeError, op, ": ", what, " dtype ", dtype_name(t.dtype()),
               " does not match the ", ref_name, " dtype ", dtype_name(ref.dtype()), " (", what, " ", t.describe(),
               ", ", ref_name, " ", ref.describe(), ")");
  DLCORE_CHECK(t.device() == ref.device(), RuntimeError, op, ": expected the ", what, " on the ", ref_name,
               "'s device (", ref.describe(), "), got ", t.describe());
}

void conv_check_float(const char* op, const Tensor& t, const char* what) {
  DLCORE_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, op, ": ", what,
               " must be float32 or float64, got ", t.describe());
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* b, const ConvArgs& a, const char* op) {
  conv_check_float(op, x, "input");
  conv_check_same(op, "weight", x, "input", w);
  ConvParams p = conv_params(op, x.shape(), w.shape(), a);
  if (b) {
    conv_check_same(op, "bias", x, "input", *b);
    DLCORE_CHECK(b->dim() == 1 && b->size(0) == p.K, ValueError, op, ": bias shape ", b->shape().str(),
                 " does not match out_channels [", p.K, "]");
  }
  Tensor y = Tensor::empty(IntList{p.N, p.K, p.P, p.Q}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  if (p.C == 0) {  // empty reduction: the bias alone
    y.fill(0.0);
    if (b) y.copy_from(b->view(IntList{1, p.K, 1, 1}));
    return y;
  }
  Tensor bc;
  if (b) bc = b->contiguous();
  conv2d_forward_op.get(x.device().type)(y, x.contiguous(), w.contiguous(), b ? &bc : nullptr, p);
  return y;
}

Tensor conv2d_backward_input(const Tensor& gy, const Tensor& w, const IntList& x_shape, const ConvArgs& a,
                             const char* op) {
  conv_check_float(op, gy, "grad_output");
  conv_check_same(op, "weight", gy, "grad_output", w);
  ConvParams p = conv_params(op, x_shape, w.shape(), a);
  DLCORE_CHECK(gy.shape() == (IntList{p.N, p.K, p.P, p.Q}), ValueError, op, ": grad_output shape ", gy.shape().str(),
               " does not match the output shape [", p.N, ", ", p.K, ", ", p.P, ", ", p.Q, "]");
  Tensor gx = Tensor::empty(x_shape, gy.dtype(), gy.device());
  if (gx.numel() == 0) return gx;
  conv2d_backward_input_op.get(gy.device().type)(gx, gy.contiguous(), w.contiguous(), p);
  return gx;
}

void conv2d_backward_weight(const Tensor& gy, const Tensor& x, const IntList& w_shape, const ConvArgs& a, bool want_w,
                            bool want_b, Tensor& gw, Tensor& gb, const char* op) {
  conv_check_float(op, gy, "grad_output");
  conv_check_same(op, "input", gy, "grad_output", x);
  ConvParams p = conv_params(op, x.shape(), w_shape, a);
  DLCORE_CHECK(gy.shape() == (IntList{p.N, p.K, p.P, p.Q}), ValueError, op, ": grad_output shape ", gy.shape().str(),
               " does not match the output shape [", p.N, ", ", p.K, ", ", p.P, ", ", p.Q, "]");
  gw = want_w ? Tensor::empty(w_shape, gy.dtype(), gy.device()) : Tensor();
  gb = want_b ? Tensor::empty(IntList{p.K}, gy.dtype(), gy.device()) : Tensor();
  if (!want_w && !want_b) return;
  if (gy.numel() == 0 || p.C == 0) {
    if (want_w) gw.fill(0.0);
    if (want_b) gb.fill(0.0);
    if (gy.numel() == 0 || !want_b) return;
    // gb still needs the sums of gy when only the input is empty of channels
    want_w = false;
  }
  conv2d_backward_weight_op.get(gy.device().type)(want_w ? &gw : nullptr, want_b ? &gb : nullptr, gy.contiguous(),
                                                 x.contiguous(), p);
}

}  // namespace dlcore
