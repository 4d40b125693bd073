// Self-registering binding sections: each family binds its functions into dlcore._C from its own file, so adding
// a family never edits a shared file.
//
//   static void bind_conv(pybind11::module_& m) { m.def("conv2d", ...); }
//   static dlcore::BindingRegistrar reg("conv", &bind_conv);
//
// Sections run in name order when the module initialises, after the tensor class is bound ("0tensor").
#pragma once
#include <pybind11/pybind11.h>

namespace dlcore {

using BindFn = void (*)(pybind11::module_&);

struct BindingRegistrar {
  BindingRegistrar(const char* name, BindFn fn);
};

}  // namespace dlcore
