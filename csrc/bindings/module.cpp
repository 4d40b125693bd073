// dlcore._C: exception translation and the binding sections registered by each family (see binder.h).
#include <pybind11/pybind11.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "bindings/binder.h"
#include "core/errors.h"

namespace dlcore {

namespace {
std::vector<std::pair<std::string, BindFn>>& sections() {
  static std::vector<std::pair<std::string, BindFn>>* s = new std::vector<std::pair<std::string, BindFn>>();
  return *s;
}
}  // namespace

BindingRegistrar::BindingRegistrar(const char* name, BindFn fn) { sections().emplace_back(name, fn); }

}  // namespace dlcore

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "dlcore native core: tensors, kernels and the kernel registry";
  // dlcore's ValueError (bad shapes and values, the DESIGN.md convention) crosses as dlcore.ShapeError, a ValueError
  // that is also a RuntimeError: what torch raises there, so `except RuntimeError` written for torch still catches it.
  static PyObject* shape_error = [] {
    PyObject* bases = PyTuple_Pack(2, PyExc_ValueError, PyExc_RuntimeError);
    PyObject* t = PyErr_NewExceptionWithDoc(
        "dlcore.ShapeError",
        "Bad shapes or values given to a dlcore op: a ValueError, and a RuntimeError as torch raises there.", bases,
        nullptr);
    Py_XDECREF(bases);
    return t;
  }();
  if (!shape_error) throw py::error_already_set();
  m.add_object("ShapeError", py::reinterpret_borrow<py::object>(shape_error));
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const dlcore::ValueError& e) {
      PyErr_SetString(shape_error, e.what());
    } catch (const dlcore::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const dlcore::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const dlcore::NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const dlcore::MemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const dlcore::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "dlcore: out of memory (std::bad_alloc)");
    }
  });
  auto& secs = dlcore::sections();
  std::sort(secs.begin(), secs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& s : secs) s.second(m);
}
