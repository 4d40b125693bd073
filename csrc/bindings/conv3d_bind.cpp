// Raw CPU conv3d kernels for the Python layer (python/dlcore/_nn_3d.py adds autograd and PyTorch's argument forms).
// stride and dilation are 3 ints, padding 6 ints (depth begin, end, top, bottom, left, right).
#include <string>

#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "ops/conv/conv3d.h"

namespace dlcore {

namespace {

Conv3dArgs conv3d_args(const char* op, py::handle stride, py::handle padding, py::handle dilation, int64_t groups) {
  Conv3dArgs a;
  IntList st = to_intlist(stride, op, "stride"), pd = to_intlist(padding, op, "padding"),
          dl = to_intlist(dilation, op, "dilation");
  DLCORE_CHECK(st.size() == 3, ValueError, op, ": stride must have 3 values, got ", st.str());
  DLCORE_CHECK(dl.size() == 3, ValueError, op, ": dilation must have 3 values, got ", dl.str());
  DLCORE_CHECK(pd.size() == 6, ValueError, op,
               ": padding must have 6 values (front, back, top, bottom, left, right), got ", pd.str());
  for (int i = 0; i < 3; ++i) {
    a.stride[i] = st[i];
    a.dilation[i] = dl[i];
  }
  for (int i = 0; i < 6; ++i) a.padding[i] = pd[i];
  a.groups = groups;
  return a;
}

void bind_conv3d(py::module_& m) {
  m.def("conv3d_cpu", [](const PyTensor& x, const PyTensor& w, py::handle b, py::handle stride, py::handle padding,
                         py::handle dilation, int64_t groups, const std::string& op) {
    Conv3dArgs a = conv3d_args(op.c_str(), stride, padding, dilation, groups);
    const Tensor* bp = b.is_none() ? nullptr : &as_tensor(b, op.c_str(), "bias");
    return wrap(conv3d_cpu(x.t, w.t, bp, a, op.c_str()));
  }, py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("groups"), py::arg("op") = "conv3d");

  m.def("conv3d_backward_input_cpu", [](const PyTensor& gy, const PyTensor& w, py::handle x_shape, py::handle stride,
                                        py::handle padding, py::handle dilation, int64_t groups,
                                        const std::string& op) {
    Conv3dArgs a = conv3d_args(op.c_str(), stride, padding, dilation, groups);
    IntList xs = to_intlist(x_shape, op.c_str(), "input_shape");
    return wrap(conv3d_backward_input_cpu(gy.t, w.t, xs, a, op.c_str()));
  }, py::arg("grad_output"), py::arg("weight"), py::arg("input_shape"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"), py::arg("op") = "conv3d");

  m.def("conv3d_backward_weight_cpu", [](const PyTensor& gy, const PyTensor& x, py::handle w_shape, py::handle stride,
                                         py::handle padding, py::handle dilation, int64_t groups, bool want_w,
                                         bool want_b, const std::string& op) {
    Conv3dArgs a = conv3d_args(op.c_str(), stride, padding, dilation, groups);
    IntList ws = to_intlist(w_shape, op.c_str(), "weight_shape");
    Tensor gw, gb;
    conv3d_backward_weight_cpu(gy.t, x.t, ws, a, want_w, want_b, gw, gb, op.c_str());
    return py::make_tuple(gw.defined() ? wrap(std::move(gw)) : py::none(),
                          gb.defined() ? wrap(std::move(gb)) : py::none());
  }, py::arg("grad_output"), py::arg("input"), py::arg("weight_shape"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"), py::arg("want_weight") = true, py::arg("want_bias") = false,
     py::arg("op") = "conv3d");

  // Test hook: "auto" (the direct float32 kernel where it applies) or "gemm" (vol2col + GEMM only).
  m.def("_conv3d_set_algorithm", [](const std::string& name) {
    DLCORE_CHECK(name == "auto" || name == "gemm", ValueError,
                 "_conv3d_set_algorithm: expected 'auto' or 'gemm', got '", name, "'");
    conv3d_set_algorithm(name == "auto" ? 0 : 1);
  });
  m.def("_conv3d_get_algorithm", []() { return std::string(conv3d_algorithm() == 0 ? "auto" : "gemm"); });
}

BindingRegistrar reg("conv3d", &bind_conv3d);

}  // namespace

}  // namespace dlcore
