// Bindings of the layer kernels (activation, softmax_loss, pool, norm, dropout, embedding). Raw kernels only:
// the autograd Functions that call them live in python/dlcore/_nn_layers.py.
#include <pybind11/stl.h>

#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "ops/activation/activation.h"
#include "ops/dropout/dropout.h"
#include "ops/embedding/embedding.h"
#include "ops/norm/norm.h"
#include "ops/pool/pool.h"
#include "ops/softmax_loss/softmax_loss.h"

namespace dlcore {

namespace {

// An optional tensor argument: None -> undefined.
Tensor opt_tensor(py::handle h, const char* op, const char* arg) {
  if (h.is_none()) return Tensor();
  return as_tensor(h, op, arg);
}

template <class E>
E enum_arg(int v, int count, const char* op) {
  DLCORE_CHECK(v >= 0 && v < count, ValueError, op, "(): unknown kind ", v);
  return (E)v;
}

Pool2dParams pool_params(std::pair<int64_t, int64_t> k, std::pair<int64_t, int64_t> s,
                         std::pair<int64_t, int64_t> p, std::pair<int64_t, int64_t> d, bool ceil_mode) {
  Pool2dParams r;
  r.kh = k.first;
  r.kw = k.second;
  r.sh = s.first;
  r.sw = s.second;
  r.ph = p.first;
  r.pw = p.second;
  r.dh = d.first;
  r.dw = d.second;
  r.ceil_mode = ceil_mode;
  return r;
}

using I2 = std::pair<int64_t, int64_t>;

void bind_layers(py::module_& m) {
  // ---- activations ----
  m.def("act_forward", [](int kind, const PyTensor& x, double a, double b) {
    return wrap(activation(enum_arg<Act>(kind, kNumActs, "activation"), x.t, ActParams{a, b}));
  });
  m.def("act_forward_", [](int kind, py::object x, double a, double b) {
    activation_(enum_arg<Act>(kind, kNumActs, "activation"), as_tensor(x, "activation_", "input"), ActParams{a, b});
    return x;
  });
  m.def("act_backward", [](int kind, const PyTensor& g, const PyTensor& saved, double a, double b) {
    return wrap(activation_backward(enum_arg<Act>(kind, kNumActs, "activation"), g.t, saved.t, ActParams{a, b}));
  });

  m.def("_max_pool3d_cpu", [](const PyTensor& x, std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> p,
                              std::vector<int64_t> d, std::vector<int64_t> out) {
    auto r = max_pool3d_cpu(x.t, k, s, p, d, out);
    return py::make_tuple(wrap(r.first), wrap(r.second));
  });
  m.def("glu_cpu", [](const PyTensor& x, int64_t dim) { return wrap(glu_cpu(x.t, dim)); });
  m.def("glu_backward_cpu", [](const PyTensor& g, const PyTensor& x, int64_t dim) {
    return wrap(glu_backward_cpu(g.t, x.t, dim));
  });
  m.def("prelu_channels", [](const PyTensor& x, const PyTensor& w) { return wrap(prelu_channels(x.t, w.t)); });
  m.def("prelu_channels_backward", [](const PyTensor& g, const PyTensor& x, const PyTensor& w, bool need_gx,
                                      bool need_gw) {
    auto r = prelu_channels_backward(g.t, x.t, w.t, need_gx, need_gw);
    return py::make_tuple(r.first.defined() ? wrap(r.first) : py::object(py::none()),
                          r.second.defined() ? wrap(r.second) : py::object(py::none()));
  });

  // ---- softmax ----
  m.def("softmax_fwd", [](const PyTensor& x, int64_t dim, bool log) { return wrap(softmax(x.t, dim, log)); });
  m.def("softmax_bwd", [](const PyTensor& g, const PyTensor& y, int64_t dim, bool log) {
    return wrap(softmax_backward(g.t, y.t, dim, log));
  });

  // ---- losses ----
  m.def("cross_entropy_fwd", [](const PyTensor& x, py::handle target, py::handle weight, int64_t ignore_index,
                                double ls) {
    CrossEntropyResult r = cross_entropy(x.t, as_tensor(target, "cross_entropy", "target"),
                                         opt_tensor(weight, "cross_entropy", "weight"), {ignore_index, ls});
    return py::make_tuple(wrap(r.loss), wrap(r.wt), wrap(r.lse));
  });
  m.def("cross_entropy_bwd", [](const PyTensor& grad, double scale, const PyTensor& x, const PyTensor& lse,
                                py::handle target, py::handle weight, int64_t ignore_index, double ls) {
    return wrap(cross_entropy_backward(grad.t, scale, x.t, lse.t, as_tensor(target, "cross_entropy", "target"),
                                       opt_tensor(weight, "cross_entropy", "weight"), {ignore_index, ls}));
  });
  m.def("nll_loss_fwd", [](const PyTensor& x, py::handle target, py::handle weight, int64_t ignore_index) {
    auto r = nll_loss(x.t, as_tensor(target, "nll_loss", "target"), opt_tensor(weight, "nll_loss", "weight"),
                      ignore_index);
    return py::make_tuple(wrap(r.first), wrap(r.second));
  });
  m.def("nll_loss_bwd", [](const PyTensor& grad, double scale, const PyTensor& x, py::handle target,
                           py::handle weight, int64_t ignore_index) {
    return wrap(nll_loss_backward(grad.t, scale, x.t, as_tensor(target, "nll_loss", "target"),
                                  opt_tensor(weight, "nll_loss", "weight"), ignore_index));
  });
  m.def("pw_loss_fwd", [](int kind, const PyTensor& x, py::handle y, py::handle w, py::handle pw, double a) {
    PwLoss k = enum_arg<PwLoss>(kind, (int)PwLoss::Count, "loss");
    return wrap(pw_loss(k, x.t, as_tensor(y, pw_loss_name(k), "target"), opt_tensor(w, pw_loss_name(k), "weight"),
                        opt_tensor(pw, pw_loss_name(k), "pos_weight"), PwLossParams{a}));
  });
  m.def("pw_loss_bwd", [](int kind, py::handle grad, double scale, const PyTensor& x, py::handle y, py::handle w,
                          py::handle pw, double a) {
    PwLoss k = enum_arg<PwLoss>(kind, (int)PwLoss::Count, "loss");
    return wrap(pw_loss_backward(k, opt_tensor(grad, pw_loss_name(k), "grad"), scale, x.t,
                                 as_tensor(y, pw_loss_name(k), "target"), opt_tensor(w, pw_loss_name(k), "weight"),
                                 opt_tensor(pw, pw_loss_name(k), "pos_weight"), PwLossParams{a}));
  });
  m.def("multi_margin_loss_fwd", [](const PyTensor& x, py::handle target, int p, double margin, py::handle w) {
    return wrap(multi_margin_loss(x.t, as_tensor(target, "multi_margin_loss", "target"), p, margin,
                                  opt_tensor(w, "multi_margin_loss", "weight")));
  });
  m.def("multi_margin_loss_bwd", [](const PyTensor& grad, double scale, const PyTensor& x, py::handle target, int p,
                                    double margin, py::handle w) {
    return wrap(multi_margin_loss_backward(grad.t, scale, x.t, as_tensor(target, "multi_margin_loss", "target"), p,
                                           margin, opt_tensor(w, "multi_margin_loss", "weight")));
  });

  // ---- pooling ----
  m.def("max_pool2d_fwd", [](const PyTensor& x, I2 k, I2 s, I2 p, I2 d, bool ceil_mode, bool with_indices) {
    auto r = max_pool2d(x.t, pool_params(k, s, p, d, ceil_mode), with_indices);
    return py::make_tuple(wrap(r.first), with_indices ? wrap(r.second) : py::none());
  });
  m.def("max_pool2d_bwd", [](const PyTensor& g, const PyTensor& x, I2 k, I2 s, I2 p, I2 d, bool ceil_mode) {
    return wrap(max_pool2d_backward(g.t, x.t, pool_params(k, s, p, d, ceil_mode)));
  });
  m.def("avg_pool2d_fwd", [](const PyTensor& x, I2 k, I2 s, I2 p, bool ceil_mode, bool count_include_pad,
                             int64_t divisor_override) {
    Pool2dParams pp = pool_params(k, s, p, {1, 1}, ceil_mode);
    pp.count_include_pad = count_include_pad;
    pp.divisor_override = divisor_override;
    return wrap(avg_pool2d(x.t, pp));
  });
  m.def("avg_pool2d_bwd", [](const PyTensor& g, const PyTensor& x, I2 k, I2 s, I2 p, bool ceil_mode,
                             bool count_include_pad, int64_t divisor_override) {
    Pool2dParams pp = pool_params(k, s, p, {1, 1}, ceil_mode);
    pp.count_include_pad = count_include_pad;
    pp.divisor_override = divisor_override;
    return wrap(avg_pool2d_backward(g.t, x.t, pp));
  });
  m.def("adaptive_avg_pool2d_fwd",
        [](const PyTensor& x, int64_t oh, int64_t ow) { return wrap(adaptive_avg_pool2d(x.t, oh, ow)); });
  m.def("adaptive_avg_pool2d_bwd",
        [](const PyTensor& g, const PyTensor& x) { return wrap(adaptive_avg_pool2d_backward(g.t, x.t)); });

  // ---- normalisation ----
  m.def("batch_norm_fwd", [](const PyTensor& x, py::handle w, py::handle b, py::handle rm, py::handle rv,
                             bool training, double momentum, double eps) {
    const char* op = "batch_norm";
    BatchNormResult r = batch_norm(x.t, opt_tensor(w, op, "weight"), opt_tensor(b, op, "bias"),
                                   opt_tensor(rm, op, "running_mean"), opt_tensor(rv, op, "running_var"),
                                   BatchNormArgs{training, momentum, eps});
    return py::make_tuple(wrap(r.y), wrap(r.save_mean), wrap(r.save_invstd));
  });
  m.def("batch_norm_bwd", [](const PyTensor& g, const PyTensor& x, py::handle w, const PyTensor& mean,
                             const PyTensor& invstd, bool training, bool need_gx, bool need_gw, bool need_gb) {
    BatchNormGrads r = batch_norm_backward(g.t, x.t, opt_tensor(w, "batch_norm_backward", "weight"), mean.t,
                                           invstd.t, training, need_gx, need_gw, need_gb);
    auto opt = [](const Tensor& t) { return t.defined() ? wrap(t) : py::none(); };
    return py::make_tuple(opt(r.gx), opt(r.gw), opt(r.gb));
  });
  m.def("lrn_fwd", [](const PyTensor& x, int64_t size, double alpha, double beta, double k) {
    return wrap(local_response_norm(x.t, LrnArgs{size, alpha, beta, k}));
  });
  m.def("lrn_bwd", [](const PyTensor& g, const PyTensor& x, int64_t size, double alpha, double beta, double k) {
    return wrap(local_response_norm_backward(g.t, x.t, LrnArgs{size, alpha, beta, k}));
  });

  // ---- dropout: returns (out, seed, offset); the backward re-applies the mask of (seed, offset) ----
  m.def("dropout_fwd", [](const PyTensor& x, double p, int64_t group) {
    DropoutArgs a;
    a.p = p;
    a.group = group;
    Tensor out = dropout(x.t, a);
    return py::make_tuple(wrap(out), a.seed, a.offset);
  });
  m.def("dropout_fwd_", [](py::object x, double p, int64_t group) {
    DropoutArgs a;
    a.p = p;
    a.group = group;
    dropout_(as_tensor(x, "dropout_", "input"), a);
    return py::make_tuple(x, a.seed, a.offset);
  });
  m.def("dropout_apply", [](const PyTensor& g, double p, int64_t group, uint64_t seed, uint64_t offset) {
    DropoutArgs a;
    a.p = p;
    a.group = group;
    a.seed = seed;
    a.offset = offset;
    return wrap(dropout_apply(g.t, a));
  });

  // ---- embedding ----
  m.def("embedding_fwd", [](const PyTensor& weight, py::handle idx) {
    return wrap(embedding(weight.t, as_tensor(idx, "embedding", "input")));
  });
  m.def("embedding_bwd", [](const PyTensor& g, py::handle idx, int64_t num_weights, int64_t padding_idx,
                            bool scale_grad_by_freq) {
    return wrap(embedding_backward(g.t, as_tensor(idx, "embedding_backward", "input"), num_weights, padding_idx,
                                   scale_grad_by_freq));
  });
}

BindingRegistrar reg("layers", &bind_layers);

}  // namespace

}  // namespace dlcore
