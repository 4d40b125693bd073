// The activation frontend: checks, contiguity, allocation and dispatch on the input's device.
#include "ops/activation/activation.h"
#include "ops/activation/layer_checks.h"

namespace dlcore {

const char* act_name(Act a) {
  switch (a) {
    case Act::Relu: return "relu";
    case Act::LeakyRelu: return "leaky_relu";
    case Act::Elu: return "elu";
    case Act::Sigmoid: return "sigmoid";
    case Act::Tanh: return "tanh";
    case Act::Gelu: return "gelu";
    case Act::GeluTanh: return "gelu";
    case Act::Softplus: return "softplus";
    default: return "activation";
  }
}

namespace {
void check_params(Act act, const ActParams& p) {
  if (act == Act::Softplus) DLCORE_CHECK(p.a != 0, ValueError, "softplus(): beta must be nonzero");
}
}  // namespace

Tensor activation(Act act, const Tensor& x, const ActParams& p) {
  layers::check_float(x, act_name(act), "input");
  check_params(act, p);
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel()) act_fwd_op.get(x.device().type)(act, out, xc, p);
  return out;
}

void activation_(Act act, const Tensor& x, const ActParams& p) {
  layers::check_float(x, act_name(act), "input");
  check_params(act, p);
  DLCORE_CHECK(x.is_contiguous(), ValueError, act_name(act),
               "_(): in-place activation needs a contiguous tensor, got strides ", x.strides().str());
  if (x.numel()) act_fwd_op.get(x.device().type)(act, x, x, p);
  ++x.storage()->version;
}

Tensor activation_backward(Act act, const Tensor& grad_out, const Tensor& saved, const ActParams& p) {
  const char* op = act_name(act);
  layers::check_float(saved, op, "saved");
  layers::check_like(saved, grad_out, op, "saved", "grad_output");
  Tensor s = saved.contiguous(), g = grad_out.contiguous();
  Tensor gx = Tensor::empty(s.shape(), s.dtype(), s.device());
  if (gx.numel()) act_bwd_op.get(s.device().type)(act, gx, g, s, p);
  return gx;
}

}  // namespace dlcore
