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
    case Act::Hardtanh: return "hardtanh";
    case Act::Silu: return "silu";
    case Act::Mish: return "mish";
    case Act::Hardswish: return "hardswish";
    case Act::Hardsigmoid: return "hardsigmoid";
    case Act::Threshold: return "threshold";
    case Act::Hardshrink: return "hardshrink";
    case Act::Softshrink: return "softshrink";
    case Act::LogSigmoid: return "logsigmoid";
    default: return "activation";
  }
}

namespace {
void check_params(Act act, const ActParams& p) {
  if (act == Act::Softplus) DLCORE_CHECK(p.a != 0, ValueError, "softplus(): beta must be nonzero");
  if (act == Act::Softshrink)
    DLCORE_CHECK(p.a >= 0, RuntimeError, "softshrink(): lambda must be greater or equal to 0, but found to be ", p.a);
  if (act == Act::Hardtanh)
    DLCORE_CHECK(p.a <= p.b, ValueError, "hardtanh(): min_val cannot be greater than max_val, got min_val ", p.a,
                 " and max_val ", p.b);
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
  Tensor s = saved.contiguous();
  // A gradient that is one value broadcast (the backward of sum() or mean()) goes to the CPU loops as it is: they
  // read the value once instead of a materialised copy. Every other layout (and every other device) is made
  // contiguous.
  bool g_bcast = s.device().type == DeviceType::CPU && grad_out.numel() > 1;
  for (int d = 0; d < grad_out.dim() && g_bcast; ++d) g_bcast = grad_out.stride(d) == 0 || grad_out.shape()[d] == 1;
  Tensor g = g_bcast ? grad_out : grad_out.contiguous();
  Tensor gx = Tensor::empty(s.shape(), s.dtype(), s.device());
  if (gx.numel()) act_bwd_op.get(s.device().type)(act, gx, g, s, p);
  return gx;
}

}  // namespace dlcore
