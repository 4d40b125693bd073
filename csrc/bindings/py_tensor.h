// The Python tensor object (dlcore.Tensor) and helpers shared by the binding files.
//
// PyTensor = a core Tensor + the autograd fields the Python layer uses (requires_grad, grad, grad_fn, output_nr).
// The autograd engine itself is Python (python/dlcore/autograd.py); these fields live here so that every op can
// read them cheaply. `grad`/`grad_fn` hold Python objects (null handle = None).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "core/tensor.h"
#include "ops/elementwise/elementwise.h"

namespace dlcore {

namespace py = pybind11;

struct PyTensor {
  Tensor t;
  bool requires_grad = false;
  bool retains_grad = false;
  int output_nr = 0;
  py::object grad;     // null = None
  py::object grad_fn;  // null = None (a leaf)
  PyTensor() = default;
  explicit PyTensor(Tensor x) : t(std::move(x)) {}
};

// A new Python tensor object owning t (no autograd history).
py::object wrap(Tensor t);

inline std::string type_name(py::handle h) { return Py_TYPE(h.ptr())->tp_name; }
inline bool is_tensor(py::handle h) { return py::isinstance<PyTensor>(h); }
// The tensor behind h; raises TypeError naming op and the argument otherwise.
PyTensor& as_py_tensor(py::handle h, const char* op, const char* arg);
inline Tensor& as_tensor(py::handle h, const char* op, const char* arg) { return as_py_tensor(h, op, arg).t; }

// Python number -> ScalarArg; false when h is not a number (bool, int, float or a NumPy scalar).
bool to_scalar(py::handle h, ScalarArg& out);

// A shape from a Python sequence of ints (or a single int); raises TypeError/ValueError naming op.
IntList to_intlist(py::handle h, const char* op, const char* what);
py::tuple to_tuple(const IntList& l);

DType to_dtype(py::handle h, const char* op);  // a dlcore dtype, or a NumPy dtype/type
Device to_device(py::handle h, const char* op);  // None -> cpu, str, or dlcore.device
py::object dtype_object(DType d);

// The NumPy dtype for d (bfloat16 has none: raises TypeError naming op).
py::dtype numpy_dtype(DType d, const char* op);
DType from_numpy_dtype(const py::dtype& dt, const char* op);

}  // namespace dlcore
