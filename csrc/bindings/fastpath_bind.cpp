// Native fast paths for Tensor's arithmetic operators (+, -, *, / and their reflected forms).
//
// Without autograd these run the kernel directly from the operator slot (one native call instead of two Python
// frames and a dispatch); when grad mode is on and an operand requires grad they call the Python op given at
// install time (python/dlcore/_ops.py: add/sub/mul/div), which records the graph. Semantics are those of the
// Python operators they replace: a non-tensor, non-number operand gives NotImplemented.
#include "bindings/binder.h"
#include "bindings/py_tensor.h"

namespace dlcore {

bool autograd_grad_enabled();  // autograd_bind.cpp

namespace {

constexpr int kFastOps = 4;  // add, sub, mul, div
PyObject* g_fallback[kFastOps] = {};  // strong references, kept for the process lifetime

BinaryOp op_of(int k) {
  switch (k) {
    case 0: return BinaryOp::Add;
    case 1: return BinaryOp::Sub;
    case 2: return BinaryOp::Mul;
    default: return BinaryOp::Div;
  }
}

struct Arg {
  PyTensor* t = nullptr;
  ScalarArg s;
};

// false: the operand is neither a tensor nor a number
bool to_arg(py::handle h, Arg& a) {
  if (is_tensor(h)) {
    a.t = &h.cast<PyTensor&>();
    return true;
  }
  return to_scalar(h, a.s);
}

py::object fast_binary(int k, py::handle self, py::handle other, bool reflected) {
  Arg x, y;
  if (!to_arg(self, x) || !to_arg(other, y)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  py::handle a = reflected ? other : self, b = reflected ? self : other;
  Arg& aa = reflected ? y : x;
  Arg& bb = reflected ? x : y;
  if (autograd_grad_enabled() && ((x.t && x.t->requires_grad) || (y.t && y.t->requires_grad)))
    return py::handle(g_fallback[k])(a, b);
  BinaryOp op = op_of(k);
  DType dt = result_type(aa.t ? &aa.t->t : nullptr, aa.t ? nullptr : &aa.s, bb.t ? &bb.t->t : nullptr,
                         bb.t ? nullptr : &bb.s);
  if (op == BinaryOp::Div && !is_floating(dt)) dt = DType::Float32;  // true division
  Tensor ta = aa.t ? aa.t->t : scalar_operand(aa.s, dt, op);
  Tensor tb = bb.t ? bb.t->t : scalar_operand(bb.s, dt, op);
  return wrap(binary(op, ta, tb, dt));
}

void install(py::object cls, py::dict fallbacks) {
  const char* names[kFastOps] = {"add", "sub", "mul", "truediv"};
  const char* keys[kFastOps] = {"add", "sub", "mul", "div"};
  for (int k = 0; k < kFastOps; ++k) {
    PyObject* f = fallbacks[keys[k]].ptr();
    Py_INCREF(f);
    Py_XDECREF(g_fallback[k]);
    g_fallback[k] = f;
    std::string fwd = std::string("__") + names[k] + "__";
    std::string rev = std::string("__r") + names[k] + "__";
    cls.attr(fwd.c_str()) = py::cpp_function(
        [k](py::handle self, py::handle other) { return fast_binary(k, self, other, false); },
        py::name(fwd.c_str()), py::is_method(cls));
    cls.attr(rev.c_str()) = py::cpp_function(
        [k](py::handle self, py::handle other) { return fast_binary(k, self, other, true); },
        py::name(rev.c_str()), py::is_method(cls));
  }
}

void bind_fastpath(py::module_& m) {
  m.def("_install_fast_binary_ops", &install, py::arg("cls"), py::arg("fallbacks"),
        "Installs native __add__/__radd__/__sub__/__rsub__/__mul__/__rmul__/__truediv__/__rtruediv__ on cls; "
        "fallbacks: {'add','sub','mul','div'} -> the differentiable Python ops used when autograd records.");
}

}  // namespace

static BindingRegistrar reg("fastpath", &bind_fastpath);

}  // namespace dlcore
