// Pooling frontends: argument checks, output sizes, the [P, H, W] plane view, allocation and dispatch.
#include "ops/activation/layer_checks.h"
#include "ops/pool/pool.h"

namespace dlcore {

using namespace layers;

namespace {

void check_pool_input(const Tensor& x, const char* op) {
  check_float(x, op, "input");
  DLCORE_CHECK(x.dim() == 3 || x.dim() == 4, ValueError, op,
               "(): expected a 3-D [C, H, W] or 4-D [N, C, H, W] input, got shape ", x.shape().str());
  for (int d = 0; d < x.dim() - 2; ++d)
    DLCORE_CHECK(x.size(d) > 0 || x.dim() == 4, ValueError, op, "(): expected non-empty dimensions, got shape ",
                 x.shape().str());
  DLCORE_CHECK(x.size(x.dim() - 1) > 0 && x.size(x.dim() - 2) > 0, ValueError, op,
               "(): expected non-empty spatial dimensions, got shape ", x.shape().str());
}

// Output [.., Ho, Wo] after checking the parameters against the input.
IntList pool_out_shape(const Tensor& x, const Pool2dParams& p, const char* op) {
  DLCORE_CHECK(p.kh > 0 && p.kw > 0, ValueError, op, "(): kernel_size must be positive, got (", p.kh, ", ", p.kw, ")");
  DLCORE_CHECK(p.sh > 0 && p.sw > 0, ValueError, op, "(): stride must be positive, got (", p.sh, ", ", p.sw, ")");
  DLCORE_CHECK(p.dh > 0 && p.dw > 0, ValueError, op, "(): dilation must be positive, got (", p.dh, ", ", p.dw, ")");
  DLCORE_CHECK(p.ph >= 0 && p.pw >= 0, ValueError, op, "(): padding must be non-negative, got (", p.ph, ", ", p.pw,
               ")");
  DLCORE_CHECK(p.ph <= p.kh / 2 && p.pw <= p.kw / 2, ValueError, op,
               "(): padding should be at most half of the kernel size, got padding (", p.ph, ", ", p.pw,
               ") for kernel (", p.kh, ", ", p.kw, ")");
  int64_t H = x.size(x.dim() - 2), W = x.size(x.dim() - 1);
  int64_t Ho = pool_out_size(H, p.kh, p.sh, p.ph, p.dh, p.ceil_mode);
  int64_t Wo = pool_out_size(W, p.kw, p.sw, p.pw, p.dw, p.ceil_mode);
  DLCORE_CHECK(Ho >= 1 && Wo >= 1, ValueError, op, "(): the kernel (", p.kh, ", ", p.kw, ") with dilation (", p.dh,
               ", ", p.dw, ") is larger than the padded input ", x.shape().str(), " (output size would be ", Ho,
               "x", Wo, ")");
  IntList s = x.shape();
  s[s.size() - 2] = Ho;
  s[s.size() - 1] = Wo;
  return s;
}

// [P, H, W] view of a contiguous tensor whose last two dims are spatial.
Tensor planes(const Tensor& t) {
  int64_t P = 1;
  for (int d = 0; d < t.dim() - 2; ++d) P *= t.size(d);
  return t.view(IntList{P, t.size(t.dim() - 2), t.size(t.dim() - 1)});
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d(const Tensor& x, const Pool2dParams& p, bool with_indices) {
  const char* op = "max_pool2d";
  check_pool_input(x, op);
  IntList os = pool_out_shape(x, p, op);
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(os, x.dtype(), x.device());
  Tensor idx = with_indices ? Tensor::empty(os, DType::Int64, x.device()) : Tensor();
  if (out.numel())
    max_pool2d_fwd_op.get(x.device().type)(planes(out), with_indices ? planes(idx) : idx, planes(xc), p);
  return {out, idx};
}

Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& x, const Pool2dParams& p) {
  const char* op = "max_pool2d_backward";
  check_pool_input(x, op);
  IntList os = pool_out_shape(x, p, op);
  check_defined(grad_out, op, "grad_output");
  check_same_dtype(x, grad_out, op, "input", "grad_output");
  DLCORE_CHECK(grad_out.shape() == os, ValueError, op, "(): expected grad_output of shape ", os.str(), ", got ",
               grad_out.shape().str());
  Tensor xc = x.contiguous(), g = grad_out.contiguous();
  Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (gx.numel()) max_pool2d_bwd_op.get(x.device().type)(planes(gx), planes(g), planes(xc), p);
  return gx;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p) {
  const char* op = "avg_pool2d";
  check_pool_input(x, op);
  DLCORE_CHECK(p.divisor_override >= 0, ValueError, op, "(): divisor_override must be positive, got ",
               p.divisor_override);
  IntList os = pool_out_shape(x, p, op);
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(os, x.dtype(), x.device());
  if (out.numel()) avg_pool2d_fwd_op.get(x.device().type)(planes(out), planes(xc), p);
  return out;
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Tensor& x, const Pool2dParams& p) {
  const char* op = "avg_pool2d_backward";
  check_pool_input(x, op);
  IntList os = pool_out_shape(x, p, op);
  check_defined(grad_out, op, "grad_output");
  check_same_dtype(x, grad_out, op, "input", "grad_output");
  DLCORE_CHECK(grad_out.shape() == os, ValueError, op, "(): expected grad_output of shape ", os.str(), ", got ",
               grad_out.shape().str());
  Tensor g = grad_out.contiguous();
  Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (gx.numel()) avg_pool2d_bwd_op.get(x.device().type)(planes(gx), planes(g), p);
  return gx;
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t oh, int64_t ow) {
  const char* op = "adaptive_avg_pool2d";
  check_pool_input(x, op);
  DLCORE_CHECK(oh > 0 && ow > 0, ValueError, op, "(): output_size must be positive, got (", oh, ", ", ow, ")");
  IntList os = x.shape();
  os[os.size() - 2] = oh;
  os[os.size() - 1] = ow;
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(os, x.dtype(), x.device());
  if (out.numel()) adaptive_avg_pool2d_fwd_op.get(x.device().type)(planes(out), planes(xc));
  return out;
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& x) {
  const char* op = "adaptive_avg_pool2d_backward";
  check_pool_input(x, op);
  check_defined(grad_out, op, "grad_output");
  check_same_dtype(x, grad_out, op, "input", "grad_output");
  DLCORE_CHECK(grad_out.dim() == x.dim(), ValueError, op, "(): expected grad_output of rank ", x.dim(), ", got ",
               grad_out.shape().str());
  for (int d = 0; d < x.dim() - 2; ++d)
    DLCORE_CHECK(grad_out.size(d) == x.size(d), ValueError, op, "(): grad_output ", grad_out.shape().str(),
                 " does not match input ", x.shape().str());
  Tensor g = grad_out.contiguous();
  Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (gx.numel() && g.numel()) adaptive_avg_pool2d_bwd_op.get(x.device().type)(planes(gx), planes(g));
  return gx;
}

}  // namespace dlcore
