// Bindings of the sort family (csrc/ops/sort): sort, topk and the scans. Raw kernels; autograd (values gathered
// through the indices, the scans' gradients) is in python/dlcore/_sorting.py.
#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "ops/sort/sort.h"

namespace dlcore {

namespace {

py::tuple pair(std::pair<Tensor, Tensor> r) { return py::make_tuple(wrap(r.first), wrap(r.second)); }

void bind_sort(py::module_& m) {
  m.def("sort", [](py::handle x, int64_t dim, bool descending) {
    return pair(sort(as_tensor(x, "sort", "input"), dim, descending));
  }, py::arg("input"), py::arg("dim") = -1, py::arg("descending") = false,
        "(values, indices) along dim: stable, NaN above every number.");
  m.def("kthvalue", [](py::handle x, int64_t k, int64_t dim) {
    return pair(kthvalue(as_tensor(x, "kthvalue", "input"), k, dim));
  });
  m.def("topk", [](py::handle x, int64_t k, int64_t dim, bool largest) {
    return pair(topk(as_tensor(x, "topk", "input"), k, dim, largest));
  }, py::arg("input"), py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true,
        "(values, indices) of the k largest (smallest) along dim, in sort order.");
  m.def("_cum_extreme_cpu", [](py::handle x, int64_t O, int64_t L, int64_t I, bool is_max) {
    return pair(cum_extreme_cpu(as_tensor(x, "cummax", "input"), O, L, I, is_max));
  });
  m.def("_searchsorted_cpu", [](py::handle seq, py::handle values, bool right) {
    return wrap(searchsorted_cpu(as_tensor(seq, "searchsorted", "sorted_sequence"),
                                 as_tensor(values, "searchsorted", "input"), right));
  });
  m.def("cumsum", [](py::handle x, int64_t dim, bool reverse) {
    return wrap(cumulative(as_tensor(x, "cumsum", "input"), dim, false, reverse));
  }, py::arg("input"), py::arg("dim"), py::arg("reverse") = false);
  m.def("cumprod", [](py::handle x, int64_t dim, bool reverse) {
    return wrap(cumulative(as_tensor(x, "cumprod", "input"), dim, true, reverse));
  }, py::arg("input"), py::arg("dim"), py::arg("reverse") = false);
}

}  // namespace

static BindingRegistrar reg("sort", &bind_sort);

}  // namespace dlcore
