// Frontends of softmax and the losses: argument checks (messages name the op and the expected vs given values),
// contiguity, allocation, dispatch on the input's device.
#include "ops/activation/layer_checks.h"
#include "ops/softmax_loss/softmax_loss.h"
#if DLCORE_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace dlcore {

using namespace layers;

const char* pw_loss_name(PwLoss k) {
  switch (k) {
    case PwLoss::Mse: return "mse_loss";
    case PwLoss::L1: return "l1_loss";
    case PwLoss::SmoothL1: return "smooth_l1_loss";
    case PwLoss::Huber: return "huber_loss";
    case PwLoss::Bce: return "binary_cross_entropy";
    case PwLoss::BceLogits: return "binary_cross_entropy_with_logits";
    case PwLoss::HingeEmbedding: return "hinge_embedding_loss";
    default: return "loss";
  }
}

namespace {

void view_ORI(const Tensor& x, int d, int64_t& O, int64_t& R, int64_t& I) {
  O = 1;
  I = 1;
  R = x.dim() ? x.size(d) : 1;
  for (int i = 0; i < d; ++i) O *= x.size(i);
  for (int i = d + 1; i < x.dim(); ++i) I *= x.size(i);
}

int softmax_dim(const Tensor& x, int64_t dim, const char* op) {
  if (x.dim() == 0) {
    DLCORE_CHECK(dim == 0 || dim == -1, IndexError, op, "(): dim ", dim,
                 " out of range for a 0-d tensor (expected -1 or 0)");
    return 0;
  }
  return wrap_dim(dim, x.dim(), op);
}

// The per-sample gradient: a 0-d/1-element tensor (reduction mean/sum) or [N] (reduction none).
int64_t grad_stride_of(const Tensor& grad, int64_t N, const Tensor& like, const char* op) {
  check_float(grad, op, "grad");
  check_same_dtype(like, grad, op, "input", "grad");
  DLCORE_CHECK(grad.numel() == 1 || (grad.dim() == 1 && grad.size(0) == N), ValueError, op,
               "(): expected grad of one element or of shape [", N, "], got ", grad.shape().str());
  return grad.numel() == 1 && N != 1 ? 0 : 1;
}

void check_class_weight(const Tensor& weight, const Tensor& input, int64_t C, const char* op) {
  if (!weight.defined()) return;
  check_same_device(input, weight, op, "input", "weight");
  check_same_dtype(input, weight, op, "input", "weight");
  DLCORE_CHECK(weight.dim() == 1 && weight.size(0) == C, ValueError, op, "(): expected weight of shape [", C,
               "] (one per class), got ", weight.shape().str());
}

// input [N, C], target [N] int64 with values in [0, C) or == ignore_index.
void check_class_target(const Tensor& input, const Tensor& target, int64_t ignore_index, bool allow_ignore,
                        const char* op) {
  DLCORE_CHECK(input.dim() == 2, ValueError, op, "(): expected input of shape [N, C], got ", input.shape().str());
  check_index_dtype(target, op, "target");
  check_same_device(input, target, op, "input", "target");
  DLCORE_CHECK(target.dim() == 1 && target.size(0) == input.size(0), ValueError, op,
               "(): expected target of shape [", input.size(0), "] (one class index per row of input ",
               input.shape().str(), "), got ", target.shape().str());
#if DLCORE_WITH_CUDA
  // While a CUDA graph is being captured no device-to-host copy may run: the range check is left to the kernels,
  // which give NaN (loss and gradient) for a row whose target is out of range instead of reading past the row.
  if (target.device().type == DeviceType::CUDA && cuda::is_capturing()) return;
#endif
  Tensor host = target.to(Device());  // the range check reads the indices on the host (a copy when on cuda)
  const int64_t* t = host.data<int64_t>();
  int64_t C = input.size(1);
  for (int64_t n = 0; n < target.numel(); ++n) {
    if (allow_ignore && t[n] == ignore_index) continue;
    DLCORE_CHECK(t[n] >= 0 && t[n] < C, IndexError, op, "(): target ", t[n], " is out of bounds for ", C,
                 " classes (at index ", n, ")");
  }
}

Tensor contig_or_undef(const Tensor& t) { return t.defined() ? t.contiguous() : t; }

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_float(x, op, "input");
  int d = softmax_dim(x, dim, op);
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  int64_t O, R, I;
  view_ORI(xc, d, O, R, I);
  if (out.numel()) softmax_fwd_op.get(x.device().type)(log, out, xc, O, R, I);
  return out;
}

Tensor softmax_backward(const Tensor& grad_out, const Tensor& out, int64_t dim, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  check_float(out, op, "output");
  check_like(out, grad_out, op, "output", "grad_output");
  int d = softmax_dim(out, dim, op);
  Tensor y = out.contiguous(), g = grad_out.contiguous();
  Tensor gx = Tensor::empty(y.shape(), y.dtype(), y.device());
  int64_t O, R, I;
  view_ORI(y, d, O, R, I);
  if (gx.numel()) softmax_bwd_op.get(y.device().type)(log, gx, g, y, O, R, I);
  return gx;
}

CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                 const CrossEntropyArgs& a) {
  const char* op = "cross_entropy";
  check_float(logits, op, "input");
  Tensor tc = target.defined() ? target.contiguous() : target;
  check_class_target(logits, tc, a.ignore_index, true, op);
  int64_t N = logits.size(0), C = logits.size(1);
  DLCORE_CHECK(C > 0 || N == 0, ValueError, op, "(): input has no classes (shape ", logits.shape().str(), ")");
  check_class_weight(weight, logits, C, op);
  DLCORE_CHECK(a.label_smoothing >= 0 && a.label_smoothing <= 1, ValueError, op,
               "(): label_smoothing must be in [0, 1], got ", a.label_smoothing);
  CrossEntropyResult r;
  r.loss = Tensor::empty(IntList{N}, logits.dtype(), logits.device());
  r.wt = Tensor::empty(IntList{N}, logits.dtype(), logits.device());
  r.lse = Tensor::empty(IntList{N, 2}, logits.dtype(), logits.device());  // (max, log sum exp(x - max)) per row
  if (N) cross_entropy_fwd_op.get(logits.device().type)(r.loss, r.wt, r.lse, logits.contiguous(), tc,
                                                        contig_or_undef(weight), a);
  return r;
}

Tensor cross_entropy_backward(const Tensor& grad, double scale, const Tensor& logits, const Tensor& lse,
                              const Tensor& target, const Tensor& weight, const CrossEntropyArgs& a) {
  const char* op = "cross_entropy_backward";
  check_float(logits, op, "input");
  Tensor tc = target.contiguous();
  check_class_target(logits, tc, a.ignore_index, true, op);
  int64_t N = logits.size(0), C = logits.size(1);
  check_class_weight(weight, logits, C, op);
  check_float(lse, op, "lse");
  DLCORE_CHECK(lse.dim() == 2 && lse.size(0) == N && lse.size(1) == 2, ValueError, op, "(): expected lse of shape [",
               N, ", 2] (the forward's), got ", lse.shape().str());
  int64_t gs = grad_stride_of(grad, N, logits, op);
  Tensor gx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  if (N && C)
    cross_entropy_bwd_op.get(logits.device().type)(gx, grad.contiguous(), gs, scale, logits.contiguous(),
                                                   lse.contiguous(), tc, contig_or_undef(weight), a);
  return gx;
}

std::pair<Tensor, Tensor> nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                                   int64_t ignore_index) {
  const char* op = "nll_loss";
  check_float(input, op, "input");
  Tensor tc = target.defined() ? target.contiguous() : target;
  check_class_target(input, tc, ignore_index, true, op);
  int64_t N = input.size(0);
  check_class_weight(weight, input, input.size(1), op);
  Tensor loss = Tensor::empty(IntList{N}, input.dtype(), input.device());
  Tensor wt = Tensor::empty(IntList{N}, input.dtype(), input.device());
  if (N) nll_fwd_op.get(input.device().type)(loss, wt, input.contiguous(), tc, contig_or_undef(weight), ignore_index);
  return {loss, wt};
}

Tensor nll_loss_backward(const Tensor& grad, double scale, const Tensor& input, const Tensor& target,
                         const Tensor& weight, int64_t ignore_index) {
  const char* op = "nll_loss_backward";
  check_float(input, op, "input");
  Tensor tc = target.contiguous();
  check_class_target(input, tc, ignore_index, true, op);
  int64_t N = input.size(0);
  check_class_weight(weight, input, input.size(1), op);
  int64_t gs = grad_stride_of(grad, N, input, op);
  Tensor gx = Tensor::empty(input.shape(), input.dtype(), input.device());
  if (gx.numel()) nll_bwd_op.get(input.device().type)(gx, grad.contiguous(), gs, scale, tc, contig_or_undef(weight),
                                                      ignore_index);
  return gx;
}

namespace {
void check_pw(PwLoss k, const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw) {
  const char* op = pw_loss_name(k);
  check_float(x, op, "input");
  check_defined(y, op, "target");
  check_same_device(x, y, op, "input", "target");
  check_same_dtype(x, y, op, "input", "target");
  check_same_shape(x, y, op, "input", "target");
  if (w.defined()) check_like(x, w, op, "input", "weight");
  if (pw.defined()) check_like(x, pw, op, "input", "pos_weight");
}
}  // namespace

Tensor pw_loss(PwLoss k, const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw,
               const PwLossParams& p) {
  check_pw(k, x, y, w, pw);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel())
    pw_loss_fwd_op.get(x.device().type)(k, out, x.contiguous(), y.contiguous(), contig_or_undef(w),
                                        contig_or_undef(pw), p);
  return out;
}

Tensor pw_loss_backward(PwLoss k, const Tensor& grad, double scale, const Tensor& x, const Tensor& y,
                        const Tensor& w, const Tensor& pw, const PwLossParams& p) {
  check_pw(k, x, y, w, pw);
  int64_t gs = 1;
  // the upstream scalar of reduction mean/sum: one element, read with stride 0 (also when x has one element, as
  // [1, 1] against a 0-d grad)
  if (grad.defined() && grad.numel() == 1 && grad.shape() != x.shape()) {
    check_float(grad, pw_loss_name(k), "grad");
    check_same_device(x, grad, pw_loss_name(k), "input", "grad");
    check_same_dtype(x, grad, pw_loss_name(k), "input", "grad");
    gs = 0;
  } else if (grad.defined()) {
    check_like(x, grad, pw_loss_name(k), "input", "grad");
  }
  Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (gx.numel())
    pw_loss_bwd_op.get(x.device().type)(k, gx, contig_or_undef(grad), gs, scale, x.contiguous(), y.contiguous(),
                                        contig_or_undef(w), contig_or_undef(pw), p);
  return gx;
}

Tensor multi_margin_loss(const Tensor& input, const Tensor& target, int p, double margin, const Tensor& weight) {
  const char* op = "multi_margin_loss";
  check_float(input, op, "input");
  DLCORE_CHECK(p == 1 || p == 2, ValueError, op, "(): only p == 1 and p == 2 are supported, got ", p);
  Tensor tc = target.defined() ? target.contiguous() : target;
  check_class_target(input, tc, 0, false, op);
  check_class_weight(weight, input, input.size(1), op);
  Tensor loss = Tensor::empty(IntList{input.size(0)}, input.dtype(), input.device());
  if (loss.numel())
    multi_margin_fwd_op.get(input.device().type)(loss, input.contiguous(), tc, p, margin, contig_or_undef(weight));
  return loss;
}

Tensor multi_margin_loss_backward(const Tensor& grad, double scale, const Tensor& input, const Tensor& target, int p,
                                  double margin, const Tensor& weight) {
  const char* op = "multi_margin_loss_backward";
  check_float(input, op, "input");
  DLCORE_CHECK(p == 1 || p == 2, ValueError, op, "(): only p == 1 and p == 2 are supported, got ", p);
  Tensor tc = target.contiguous();
  check_class_target(input, tc, 0, false, op);
  check_class_weight(weight, input, input.size(1), op);
  int64_t gs = grad_stride_of(grad, input.size(0), input, op);
  Tensor gx = Tensor::empty(input.shape(), input.dtype(), input.device());
  if (gx.numel())
    multi_margin_bwd_op.get(input.device().type)(gx, grad.contiguous(), gs, scale, input.contiguous(), tc, p, margin,
                                                 contig_or_undef(weight));
  return gx;
}

}  // namespace dlcore
