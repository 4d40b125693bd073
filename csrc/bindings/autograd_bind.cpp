// Native fast paths of the autograd layer (python/dlcore/autograd.py keeps the engine and the semantics):
//   _is_grad_enabled / _set_grad_enabled   the grad mode, a per-thread flag (like threading.local)
//   _needs_grad(*args)                     grad mode on and some argument is a tensor that requires grad
//   _function_apply(cls, node_cls, args, kwargs)
//                                          Function.apply: runs cls.forward(ctx, *args) with grad mode off and,
//                                          when recording, links the outputs to ctx (edges, needs_input_grad,
//                                          output metadata) exactly as the Python version did
//   _save_for_backward(ctx, tensors)       ctx._saved (history-free aliases) and ctx._saved_versions
#include "bindings/binder.h"
#include "bindings/py_tensor.h"

namespace dlcore {

namespace {
thread_local bool t_grad_enabled = true;
}  // namespace

// Shared with fastpath_bind.cpp.
bool autograd_grad_enabled() { return t_grad_enabled; }

namespace {

inline bool requires_grad_of(py::handle h) {
  return is_tensor(h) && h.cast<PyTensor&>().requires_grad;
}

bool any_requires_grad(py::handle args) {
  PyObject* t = args.ptr();
  Py_ssize_t n = PyTuple_GET_SIZE(t);
  for (Py_ssize_t i = 0; i < n; ++i)
    if (requires_grad_of(PyTuple_GET_ITEM(t, i))) return true;
  return false;
}

py::object out_meta(PyTensor& o) {
  return py::make_tuple(to_tuple(o.t.shape()), dtype_object(o.t.dtype()), py::cast(o.t.device()));
}

void settle_saved_sources(py::handle ctx, py::handle out);

py::object function_apply(py::handle cls, py::handle node_cls, py::tuple args, py::object kwargs) {
  py::object ctx = node_cls();
  py::object forward = cls.attr("forward");
  Py_ssize_t n = PyTuple_GET_SIZE(args.ptr());
  py::tuple call_args(n + 1);
  PyTuple_SET_ITEM(call_args.ptr(), 0, ctx.inc_ref().ptr());
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* a = PyTuple_GET_ITEM(args.ptr(), i);
    Py_INCREF(a);
    PyTuple_SET_ITEM(call_args.ptr(), i + 1, a);
  }
  PyObject* kw = (kwargs.is_none() || PyDict_GET_SIZE(kwargs.ptr()) == 0) ? nullptr : kwargs.ptr();
  if (!t_grad_enabled) {
    PyObject* r = PyObject_Call(forward.ptr(), call_args.ptr(), kw);
    if (!r) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(r);
  }
  bool record = any_requires_grad(args);
  t_grad_enabled = false;
  PyObject* r = PyObject_Call(forward.ptr(), call_args.ptr(), kw);
  t_grad_enabled = true;
  if (!r) throw py::error_already_set();
  py::object out = py::reinterpret_steal<py::object>(r);
  if (!record) return out;

  py::tuple edges(n), needs(n);
  for (Py_ssize_t i = 0; i < n; ++i) {
    py::handle a = PyTuple_GET_ITEM(args.ptr(), i);
    if (requires_grad_of(a)) {
      PyTensor& pt = a.cast<PyTensor&>();
      if (pt.grad_fn && !pt.grad_fn.is_none())
        edges[i] = py::make_tuple(pt.grad_fn, pt.output_nr);
      else
        edges[i] = py::make_tuple(a, py::none());
      needs[i] = py::bool_(true);
    } else {
      edges[i] = py::none();
      needs[i] = py::bool_(false);
    }
  }
  ctx.attr("next_functions") = edges;
  ctx.attr("needs_input_grad") = needs;
  // ids of outputs marked non-differentiable (ctx.mark_non_differentiable)
  py::object non_diff = py::getattr(ctx, "_non_diff", py::none());
  auto is_non_diff = [&](py::handle o) {
    if (non_diff.is_none()) return false;
    return PySequence_Contains(non_diff.ptr(), py::int_((uintptr_t)o.ptr()).ptr()) == 1;
  };
  if (PyTuple_Check(out.ptr())) {
    Py_ssize_t m = PyTuple_GET_SIZE(out.ptr());
    py::tuple metas(m);
    for (Py_ssize_t i = 0; i < m; ++i) {
      py::handle o = PyTuple_GET_ITEM(out.ptr(), i);
      if (is_tensor(o)) {
        PyTensor& pt = o.cast<PyTensor&>();
        metas[i] = out_meta(pt);
        if (!is_non_diff(o) && is_floating(pt.t.dtype())) {
          pt.requires_grad = true;
          pt.grad_fn = ctx;
          pt.output_nr = (int)i;
        }
      } else {
        metas[i] = py::none();
      }
    }
    ctx.attr("_out_meta") = metas;
  } else {
    PyTensor& pt = as_py_tensor(out, "Function.apply", "forward output");
    ctx.attr("_out_meta") = py::make_tuple(out_meta(pt));
    if (!is_non_diff(out)) {
      DLCORE_CHECK(is_floating(pt.t.dtype()), RuntimeError, "Function.apply: a differentiable output must be "
                   "floating point, got ", dtype_name(pt.t.dtype()), " (mark it non-differentiable)");
      pt.requires_grad = true;
      pt.grad_fn = ctx;
      pt.output_nr = 0;
    }
  }
  settle_saved_sources(ctx, out);
  return out;
}

void save_for_backward(py::handle ctx, py::tuple tensors) {
  Py_ssize_t n = PyTuple_GET_SIZE(tensors.ptr());
  py::tuple saved(n), versions(n);
  for (Py_ssize_t i = 0; i < n; ++i) {
    py::handle t = PyTuple_GET_ITEM(tensors.ptr(), i);
    if (t.is_none()) {
      saved[i] = py::none();
      versions[i] = py::none();
    } else {
      PyTensor& pt = as_py_tensor(t, "save_for_backward", "tensor");
      saved[i] = wrap(pt.t);
      versions[i] = py::int_(pt.t.storage()->version);
    }
  }
  ctx.attr("_saved") = saved;
  ctx.attr("_saved_versions") = versions;
  // The saved tensors themselves, for a double backward (Node.saved_tensors under create_graph): function_apply
  // turns each into its history once the outputs are linked (see settle_saved_sources).
  ctx.attr("_saved_src") = tensors;
}

// ctx._saved_src after the outputs are linked: an output of this node becomes its output number (the history is
// rebuilt on use: holding the output would make a cycle through the C++ tensor that the GC cannot see), an input
// that requires grad stays (its grad_fn or leaf identity is its history), anything else becomes None.
void settle_saved_sources(py::handle ctx, py::handle out) {
  PyObject* src = PyObject_GetAttrString(ctx.ptr(), "_saved_src");
  if (!src) {
    PyErr_Clear();
    return;
  }
  py::object srco = py::reinterpret_steal<py::object>(src);
  if (!PyTuple_Check(src) || PyTuple_GET_SIZE(src) == 0) return;
  Py_ssize_t n = PyTuple_GET_SIZE(src);
  py::tuple settled(n);
  for (Py_ssize_t i = 0; i < n; ++i) {
    py::handle t = PyTuple_GET_ITEM(src, i);
    py::object v = py::none();
    if (!t.is_none()) {
      if (PyTuple_Check(out.ptr())) {
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(out.ptr()); ++j)
          if (PyTuple_GET_ITEM(out.ptr(), j) == t.ptr()) v = py::int_(j);
      } else if (out.ptr() == t.ptr()) {
        v = py::int_(0);
      }
      if (v.is_none() && requires_grad_of(t) && !(t.cast<PyTensor&>().grad_fn.ptr() == ctx.ptr()))
        v = py::reinterpret_borrow<py::object>(t);
    }
    settled[i] = v;
  }
  ctx.attr("_saved_src") = settled;
}

void bind_autograd(py::module_& m) {
  m.def("_is_grad_enabled", []() { return t_grad_enabled; });
  m.def("_set_grad_enabled", [](bool v) {
    bool prev = t_grad_enabled;
    t_grad_enabled = v;
    return prev;
  });
  m.def("_needs_grad", [](py::args args) { return t_grad_enabled && any_requires_grad(args); });
  m.def("_function_apply", &function_apply, py::arg("cls"), py::arg("node_cls"), py::arg("args"),
        py::arg("kwargs") = py::none());
  m.def("_save_for_backward", &save_for_backward, py::arg("ctx"), py::arg("tensors"));
}

}  // namespace

static BindingRegistrar reg("autograd", &bind_autograd);

}  // namespace dlcore
