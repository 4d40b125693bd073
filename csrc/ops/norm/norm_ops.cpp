// Normalisation frontends: checks (messages name the op and the expected vs given shapes), the [N, C, S] view,
// allocation and dispatch.
#include "ops/activation/layer_checks.h"
#include "ops/norm/norm.h"

namespace dlcore {

using namespace layers;

namespace {

Tensor ncs(const Tensor& t) {
  int64_t S = 1;
  for (int d = 2; d < t.dim(); ++d) S *= t.size(d);
  return t.view(IntList{t.size(0), t.size(1), S});
}

void check_channel_vec(const Tensor& v, const Tensor& x, const char* op, const char* arg, bool writable) {
  if (!v.defined()) return;
  check_same_device(x, v, op, "input", arg);
  check_same_dtype(x, v, op, "input", arg);
  DLCORE_CHECK(v.dim() == 1 && v.size(0) == x.size(1), ValueError, op, "(): expected ", arg, " of shape [",
               x.size(1), "] (one per channel of input ", x.shape().str(), "), got ", v.shape().str());
  if (writable)
    DLCORE_CHECK(v.is_contiguous(), ValueError, op, "(): ", arg, " must be contiguous (it is updated in place)");
}

void check_bn_input(const Tensor& x, const char* op) {
  check_float(x, op, "input");
  DLCORE_CHECK(x.dim() >= 2, ValueError, op, "(): expected input of shape (N, C) or (N, C, ...), got ",
               x.shape().str());
}

Tensor contig_or_undef(const Tensor& t) { return t.defined() ? t.contiguous() : t; }

}  // namespace

BatchNormResult batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, const BatchNormArgs& a) {
  const char* op = "batch_norm";
  check_bn_input(x, op);
  check_channel_vec(weight, x, op, "weight", false);
  check_channel_vec(bias, x, op, "bias", false);
  check_channel_vec(running_mean, x, op, "running_mean", true);
  check_channel_vec(running_var, x, op, "running_var", true);
  DLCORE_CHECK(a.eps > 0 || a.eps == 0, ValueError, op, "(): eps must be non-negative, got ", a.eps);
  if (a.training) {
    int64_t per = x.numel() / std::max<int64_t>(x.size(1), 1);
    DLCORE_CHECK(per > 1 || x.size(1) == 0, ValueError, op,
                 "(): expected more than 1 value per channel when training, got input of shape ", x.shape().str());
  } else {
    DLCORE_CHECK(running_mean.defined() && running_var.defined(), ValueError, op,
                 "(): running_mean and running_var must be given in evaluation mode (training=False)");
  }
  Tensor xc = x.contiguous();
  BatchNormResult r;
  r.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  r.save_mean = Tensor::empty(IntList{x.size(1)}, x.dtype(), x.device());
  r.save_invstd = Tensor::empty(IntList{x.size(1)}, x.dtype(), x.device());
  if (x.numel()) {
    batch_norm_fwd_op.get(x.device().type)(ncs(r.y), r.save_mean, r.save_invstd, ncs(xc), contig_or_undef(weight),
                                           contig_or_undef(bias), running_mean, running_var, a);
    if (a.training) {
      if (running_mean.defined()) ++running_mean.storage()->version;
      if (running_var.defined()) ++running_var.storage()->version;
    }
  }
  return r;
}

BatchNormGrads batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                                   const Tensor& save_invstd, bool training, bool need_gx, bool need_gw,
                                   bool need_gb) {
  const char* op = "batch_norm_backward";
  check_bn_input(x, op);
  check_like(x, g, op, "input", "grad_output");
  check_channel_vec(weight, x, op, "weight", false);
  check_defined(save_mean, op, "save_mean");
  check_defined(save_invstd, op, "save_invstd");
  check_channel_vec(save_mean, x, op, "save_mean", false);
  check_channel_vec(save_invstd, x, op, "save_invstd", false);
  Tensor xc = x.contiguous(), gc = g.contiguous();
  BatchNormGrads r;
  if (need_gx) r.gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (need_gw) r.gw = Tensor::empty(IntList{x.size(1)}, x.dtype(), x.device());
  if (need_gb) r.gb = Tensor::empty(IntList{x.size(1)}, x.dtype(), x.device());
  if (x.numel() == 0) {
    if (need_gw) r.gw.fill(0);
    if (need_gb) r.gb.fill(0);
    return r;
  }
  batch_norm_bwd_op.get(x.device().type)(need_gx ? ncs(r.gx) : Tensor(), r.gw, r.gb, ncs(gc), ncs(xc),
                                         contig_or_undef(weight), save_mean.contiguous(), save_invstd.contiguous(),
                                         training);
  return r;
}

namespace {
void check_lrn(const Tensor& x, const LrnArgs& a, const char* op) {
  check_float(x, op, "input");
  DLCORE_CHECK(x.dim() >= 3, ValueError, op, "(): expected 3D or higher dimensional input, got shape ",
               x.shape().str());
  DLCORE_CHECK(a.size > 0, ValueError, op, "(): size must be positive, got ", a.size);
}
}  // namespace

Tensor local_response_norm(const Tensor& x, const LrnArgs& a) {
  const char* op = "local_response_norm";
  check_lrn(x, a, op);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel()) lrn_fwd_op.get(x.device().type)(ncs(y), ncs(xc), a);
  return y;
}

Tensor local_response_norm_backward(const Tensor& g, const Tensor& x, const LrnArgs& a) {
  const char* op = "local_response_norm_backward";
  check_lrn(x, a, op);
  check_like(x, g, op, "input", "grad_output");
  Tensor xc = x.contiguous(), gc = g.contiguous();
  Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (gx.numel()) lrn_bwd_op.get(x.device().type)(ncs(gx), ncs(gc), ncs(xc), a);
  return gx;
}

namespace {

void check_ln(const Tensor& x, int64_t D, const Tensor& w, const Tensor& b, const char* op) {
  DLCORE_CHECK(is_floating(x.dtype()) && (x.dtype() == DType::Float32 || x.dtype() == DType::Float64), TypeError,
               op, "(): expected a float32 or float64 input, got ", dtype_name(x.dtype()));
  DLCORE_CHECK(D > 0 && x.numel() % D == 0 && x.dim() >= 1 && x.size(x.dim() - 1) > 0, ValueError, op,
               "(): cannot normalise the last ", D, " elements of an input of shape ", x.shape().str());
  for (const Tensor* p : {&w, &b}) {
    if (!p->defined()) continue;
    DLCORE_CHECK(p->numel() == D && p->dtype() == x.dtype() && p->device() == x.device(), ValueError, op,
                 "(): weight/bias must have ", D, " elements of the input's dtype and device, got ", p->shape().str(),
                 " ", dtype_name(p->dtype()), " on ", p->device().str());
  }
}

}  // namespace

BatchNormResult layer_norm(const Tensor& x, int64_t D, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  check_ln(x, D, weight, bias, op);
  Tensor xc = x.contiguous();
  const int64_t R = x.numel() / D;
  BatchNormResult r;
  r.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  r.save_mean = Tensor::empty(IntList{R}, x.dtype(), x.device());
  r.save_invstd = Tensor::empty(IntList{R}, x.dtype(), x.device());
  layer_norm_fwd_op.get(x.device().type)(r.y, r.save_mean, r.save_invstd, xc, contig_or_undef(weight),
                                         contig_or_undef(bias), eps);
  return r;
}

BatchNormGrads layer_norm_backward(const Tensor& g, const Tensor& x, int64_t D, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool need_gx, bool need_gw, bool need_gb) {
  const char* op = "layer_norm_backward";
  check_ln(x, D, weight, Tensor(), op);
  DLCORE_CHECK(g.shape() == x.shape() && g.dtype() == x.dtype(), ValueError, op, "(): grad ", g.shape().str(),
               " does not match the input ", x.shape().str());
  BatchNormGrads r;
  if (need_gx) r.gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (need_gw && weight.defined()) r.gw = Tensor::empty(IntList{D}, x.dtype(), x.device());
  if (need_gb) r.gb = Tensor::empty(IntList{D}, x.dtype(), x.device());
  layer_norm_bwd_op.get(x.device().type)(r.gx, r.gw, r.gb, g.contiguous(), x.contiguous(), contig_or_undef(weight),
                                         mean, rstd);
  return r;
}

}  // namespace dlcore
