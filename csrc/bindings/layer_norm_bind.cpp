// Bindings of the cpu layer_norm kernels (csrc/ops/norm): raw forward/backward; autograd and the other devices'
// path (the batch_norm kernels on a [1, rows, D] view) are in python/dlcore/_nn_extra.py.
#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "ops/norm/norm.h"

namespace dlcore {

namespace {

Tensor optional(py::handle h, const char* op, const char* arg) {
  return h.is_none() ? Tensor() : as_tensor(h, op, arg);
}

void bind_layer_norm(py::module_& m) {
  m.def("layer_norm_fwd", [](py::handle x, int64_t D, py::handle w, py::handle b, double eps) {
    const char* op = "layer_norm";
    BatchNormResult r = layer_norm(as_tensor(x, op, "input"), D, optional(w, op, "weight"), optional(b, op, "bias"),
                                   eps);
    return py::make_tuple(wrap(r.y), wrap(r.save_mean), wrap(r.save_invstd));
  }, py::arg("input"), py::arg("D"), py::arg("weight"), py::arg("bias"), py::arg("eps"),
        "(y, mean, rstd): layer_norm over the last D elements (cpu, float32/float64).");
  m.def("layer_norm_bwd", [](py::handle g, py::handle x, int64_t D, py::handle w, py::handle mean, py::handle rstd,
                             bool need_gx, bool need_gw, bool need_gb) {
    const char* op = "layer_norm_backward";
    BatchNormGrads r = layer_norm_backward(as_tensor(g, op, "grad"), as_tensor(x, op, "input"), D,
                                           optional(w, op, "weight"), as_tensor(mean, op, "mean"),
                                           as_tensor(rstd, op, "rstd"), need_gx, need_gw, need_gb);
    auto o = [](const Tensor& t) { return t.defined() ? wrap(t) : py::object(py::none()); };
    return py::make_tuple(o(r.gx), o(r.gw), o(r.gb));
  }, py::arg("grad"), py::arg("input"), py::arg("D"), py::arg("weight"), py::arg("mean"), py::arg("rstd"),
        py::arg("need_gx"), py::arg("need_gw"), py::arg("need_gb"));
}

}  // namespace

static BindingRegistrar reg("layer_norm", &bind_layer_norm);

}  // namespace dlcore
