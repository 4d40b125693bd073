// Raw convolution kernels for the Python layer (python/dlcore/_nn_conv.py adds autograd and PyTorch's argument
// forms). stride and dilation are 2 ints, padding 4 ints (top, bottom, left, right).
#include <string>

#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "ops/conv/conv.h"
#include "ops/conv/conv_direct.h"

namespace dlcore {

namespace {

ConvArgs conv_args(const char* op, py::handle stride, py::handle padding, py::handle dilation, int64_t groups) {
  ConvArgs a;
  IntList st = to_intlist(stride, op, "stride"), pd = to_intlist(padding, op, "padding"),
          dl = to_intlist(dilation, op, "dilation");
  DLCORE_CHECK(st.size() == 2, ValueError, op, ": stride must have 2 values, got ", st.str());
  DLCORE_CHECK(dl.size() == 2, ValueError, op, ": dilation must have 2 values, got ", dl.str());
  DLCORE_CHECK(pd.size() == 4, ValueError, op, ": padding must have 4 values (top, bottom, left, right), got ",
               pd.str());
  for (int i = 0; i < 2; ++i) {
    a.stride[i] = st[i];
    a.dilation[i] = dl[i];
  }
  for (int i = 0; i < 4; ++i) a.padding[i] = pd[i];
  a.groups = groups;
  return a;
}

void bind_conv(py::module_& m) {
  m.def("conv2d", [](const PyTensor& x, const PyTensor& w, py::handle b, py::handle stride, py::handle padding,
                     py::handle dilation, int64_t groups, const std::string& op) {
    ConvArgs a = conv_args(op.c_str(), stride, padding, dilation, groups);
    const Tensor* bp = b.is_none() ? nullptr : &as_tensor(b, op.c_str(), "bias");
    return wrap(conv2d(x.t, w.t, bp, a, op.c_str()));
  }, py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("groups"), py::arg("op") = "conv2d");

  m.def("conv2d_backward_input", [](const PyTensor& gy, const PyTensor& w, py::handle x_shape, py::handle stride,
                                    py::handle padding, py::handle dilation, int64_t groups,
                                    const std::string& op) {
    ConvArgs a = conv_args(op.c_str(), stride, padding, dilation, groups);
    IntList xs = to_intlist(x_shape, op.c_str(), "input_shape");
    return wrap(conv2d_backward_input(gy.t, w.t, xs, a, op.c_str()));
  }, py::arg("grad_output"), py::arg("weight"), py::arg("input_shape"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"), py::arg("op") = "conv2d");

  m.def("conv2d_backward_weight", [](const PyTensor& gy, const PyTensor& x, py::handle w_shape, py::handle stride,
                                     py::handle padding, py::handle dilation, int64_t groups, bool want_w,
                                     bool want_b, const std::string& op) {
    ConvArgs a = conv_args(op.c_str(), stride, padding, dilation, groups);
    IntList ws = to_intlist(w_shape, op.c_str(), "weight_shape");
    Tensor gw, gb;
    conv2d_backward_weight(gy.t, x.t, ws, a, want_w, want_b, gw, gb, op.c_str());
    return py::make_tuple(gw.defined() ? wrap(std::move(gw)) : py::none(),
                          gb.defined() ? wrap(std::move(gb)) : py::none());
  }, py::arg("grad_output"), py::arg("input"), py::arg("weight_shape"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"), py::arg("want_weight") = true,
     py::arg("want_bias") = false, py::arg("op") = "conv2d");

  m.def("_conv_set_algorithm", [](const std::string& name) {
    ConvAlgorithm a;
    if (name == "auto") a = ConvAlgorithm::Auto;
    else if (name == "im2col") a = ConvAlgorithm::Im2col;
    else if (name == "direct") a = ConvAlgorithm::Direct;
    else if (name == "winograd") a = ConvAlgorithm::Winograd;
    else DLCORE_THROW(ValueError, "_conv_set_algorithm: expected 'auto', 'im2col', 'direct' or 'winograd', got '",
                      name, "'");
    set_conv_algorithm(a);
  });
  // Test hook: the AVX-512 direct kernels' vector width (8 or 16 floats); None only reads it.
  m.def("_conv_direct_avx512_vl", [](py::handle vl) {
    if (!vl.is_none()) conv_direct_set_avx512_vl(vl.cast<int>());
    return conv_direct_tables().avx512_vl;
  }, py::arg("vl") = py::none());
  m.def("_conv_get_algorithm", []() {
    const char* names[] = {"auto", "im2col", "direct", "winograd"};
    return std::string(names[(int)conv_algorithm()]);
  });
}

BindingRegistrar reg("conv", &bind_conv);

}  // namespace

}  // namespace dlcore
