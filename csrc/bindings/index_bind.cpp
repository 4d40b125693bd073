// Bindings of the index kernels (csrc/ops/index): gather, scatter_/scatter_add_, index_select, index_add_,
// index_get/index_put_ (the core of advanced indexing). Raw kernels; autograd is in python/dlcore/_indexing.py.
#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "core/overlap.h"
#include "ops/index/index.h"

namespace dlcore {

bool autograd_grad_enabled();  // autograd_bind.cpp

namespace {

int norm_dim(int64_t dim, int nd, const char* op) {
  int n = nd == 0 ? 1 : nd;
  DLCORE_CHECK(dim >= -n && dim < n, IndexError, op, "(): dim ", dim, " is out of range for a tensor of ", nd,
               " dimensions");
  return (int)(dim < 0 ? dim + n : dim);
}

const Tensor& index_arg(py::handle h, const char* op) {
  const Tensor& idx = as_tensor(h, op, "index");
  DLCORE_CHECK(idx.dtype() == DType::Int64, TypeError, op, "(): expected an int64 index tensor, got ",
               dtype_name(idx.dtype()));
  return idx;
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  DLCORE_CHECK(a.device() == b.device(), RuntimeError, op, "(): tensors are on different devices (",
               a.device().str(), " and ", b.device().str(), ")");
}

// The view of t with shape `shape` whose stride along `dim` is 0 (the offsets carry that coordinate).
Tensor zero_stride_view(const Tensor& t, const IntList& shape, int dim) {
  IntList st = t.strides();
  if (t.dim() == 0) return t.as_strided(shape, IntList::filled(shape.size(), 0), t.offset());
  st[dim] = 0;
  return t.as_strided(shape, st, t.offset());
}

// Offsets along `dim` for an index tensor shaped like `shape`.
// Offsets of idx's entries along dimension dim (of the given size and stride). Unlike x[idx], the index ops
// (gather, scatter, index_select, index_add) take no negative indices, as in PyTorch.
Tensor offsets_along(const Tensor& idx, int64_t size, int64_t stride, const char* op, int dim) {
  // no negative indices; the check runs where the offsets are computed (on the indices' device for cuda)
  return index_offsets({idx}, {size}, {stride}, op, /*allow_negative=*/false, /*dim_label=*/dim);
}

void check_index_shape(const Tensor& idx, const Tensor& t, int dim, bool include_dim, const char* op,
                       const char* what) {
  DLCORE_CHECK(idx.dim() == t.dim(), ValueError, op, "(): index tensor must have the same number of dimensions as ",
               what, " (", idx.dim(), " vs ", t.dim(), ")");
  for (int d = 0; d < t.dim(); ++d) {
    if (d == dim && !include_dim) continue;
    DLCORE_CHECK(idx.size(d) <= t.size(d), ValueError, op, "(): size of index ", idx.shape().str(),
                 " exceeds the size of ", what, " ", t.shape().str(), " in dimension ", d);
  }
}

py::object gather_py(py::handle x_h, int64_t dim_, py::handle idx_h) {
  const Tensor& x = as_tensor(x_h, "gather", "input");
  const Tensor& idx = index_arg(idx_h, "gather");
  check_same_device(x, idx, "gather");
  int dim = norm_dim(dim_, x.dim(), "gather");
  if (x.dim() == 0 && idx.dim() == 0) {
    Tensor off = offsets_along(idx, 1, 0, "gather", 0);
    Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
    gather_by_offset_op.get(x.device().type)(out, x, off);
    return wrap(out);
  }
  check_index_shape(idx, x, dim, false, "gather", "input");
  Tensor off = offsets_along(idx, x.size(dim), x.stride(dim), "gather", dim);
  Tensor out = Tensor::empty(idx.shape(), x.dtype(), x.device());
  if (out.numel()) gather_by_offset_op.get(x.device().type)(out, zero_stride_view(x, idx.shape(), dim), off);
  return wrap(out);
}

// out[...idx...] (=|+=) src  (src: a tensor at least as large as idx in every dim, or a number)
py::object scatter_py(py::object out_h, int64_t dim_, py::handle idx_h, py::handle src_h, bool accumulate) {
  const char* op = accumulate ? "scatter_add_" : "scatter_";
  PyTensor& po = as_py_tensor(out_h, op, "self");
  check_no_internal_overlap(po.t, op);
  const Tensor& out = po.t;
  const Tensor& idx = index_arg(idx_h, op);
  check_same_device(out, idx, op);
  int dim = norm_dim(dim_, out.dim(), op);
  Tensor src;
  if (is_tensor(src_h)) {
    src = as_tensor(src_h, op, "src");
    check_same_device(out, src, op);
    DLCORE_CHECK(src.dtype() == out.dtype(), TypeError, op, "(): self (", dtype_name(out.dtype()), ") and src (",
                 dtype_name(src.dtype()), ") must have the same dtype");
    if (out.dim() > 0) check_index_shape(idx, src, dim, true, op, "src");
  } else {
    ScalarArg s;
    DLCORE_CHECK(to_scalar(src_h, s), TypeError, op, "(): src must be a Tensor or a number, not ", type_name(src_h));
    src = scalar_tensor(s, out.dtype());
  }
  if (out.dim() == 0) {
    DLCORE_CHECK(idx.numel() <= 1, ValueError, op, "(): index must have at most one element for a 0-d tensor");
  } else {
    check_index_shape(idx, out, dim, false, op, "self");
  }
  if (idx.numel() == 0) return out_h;
  Tensor off = offsets_along(idx, out.dim() ? out.size(dim) : 1, out.dim() ? out.stride(dim) : 0, op, dim);
  Tensor vals = src.dim() == 0 ? src.expand(idx.shape()) : src.as_strided(idx.shape(), src.strides(), src.offset());
  scatter_by_offset_op.get(out.device().type)(zero_stride_view(out, idx.shape(), dim), off, vals, accumulate);
  ++out.storage()->version;
  return out_h;
}

py::object index_select_py(py::handle x_h, int64_t dim_, py::handle idx_h) {
  const Tensor& x = as_tensor(x_h, "index_select", "input");
  const Tensor& idx = index_arg(idx_h, "index_select");
  check_same_device(x, idx, "index_select");
  DLCORE_CHECK(idx.dim() <= 1, ValueError, "index_select(): index must be 0-D or 1-D, got ", idx.dim(), "-D");
  int dim = norm_dim(dim_, x.dim(), "index_select");
  Tensor i1 = idx.dim() == 0 ? idx.reshape({1}) : idx;
  IntList shape = x.dim() == 0 ? IntList{i1.size(0)} : x.shape();
  if (x.dim()) shape[dim] = i1.size(0);
  Tensor off = offsets_along(i1, x.dim() ? x.size(dim) : 1, x.dim() ? x.stride(dim) : 0, "index_select", dim);
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  if (out.numel() == 0) return wrap(x.dim() == 0 ? out.reshape({}) : out);
  if (x.dim() && x.device().type == DeviceType::CPU && x.is_contiguous() && off.device().type == DeviceType::CPU &&
      off.is_contiguous()) {
    index_select_contiguous_cpu(out, x, off, dim);
    return wrap(out);
  }
  IntList ost = IntList::filled(shape.size(), 0);
  ost[x.dim() ? dim : 0] = 1;
  Tensor offv = off.as_strided(shape, ost, 0);
  gather_by_offset_op.get(x.device().type)(out, zero_stride_view(x.dim() ? x : x.reshape({1}), shape, dim), offv);
  if (x.dim() == 0) out = out.reshape({});
  return wrap(out);
}

py::object index_add_py(py::object out_h, int64_t dim_, py::handle idx_h, py::handle src_h) {
  PyTensor& po = as_py_tensor(out_h, "index_add_", "self");
  check_no_internal_overlap(po.t, "index_add_");
  const Tensor& out = po.t;
  const Tensor& idx = index_arg(idx_h, "index_add_");
  const Tensor& src = as_tensor(src_h, "index_add_", "source");
  check_same_device(out, idx, "index_add_");
  check_same_device(out, src, "index_add_");
  DLCORE_CHECK(idx.dim() <= 1, ValueError, "index_add_(): index must be 0-D or 1-D, got ", idx.dim(), "-D");
  DLCORE_CHECK(out.dtype() == src.dtype(), TypeError, "index_add_(): self (", dtype_name(out.dtype()),
               ") and source (", dtype_name(src.dtype()), ") must have the same dtype");
  int dim = norm_dim(dim_, out.dim(), "index_add_");
  Tensor i1 = idx.dim() == 0 ? idx.reshape({1}) : idx;
  Tensor o = out.dim() == 0 ? out.reshape({1}) : out;
  Tensor s = src.dim() == 0 ? src.reshape({1}) : src;
  DLCORE_CHECK(s.dim() == o.dim(), ValueError, "index_add_(): source should have the same number of dimensions "
               "as self (", src.dim(), " vs ", out.dim(), ")");
  for (int d = 0; d < o.dim(); ++d) {
    int64_t want = d == dim ? i1.size(0) : o.size(d);
    DLCORE_CHECK(s.size(d) == want, ValueError, "index_add_(): source has shape ", src.shape().str(),
                 "; expected size ", want, " in dimension ", d, " (self ", out.shape().str(), ", index of ",
                 i1.size(0), " entries)");
  }
  if (s.numel() == 0) return out_h;
  Tensor off = offsets_along(i1, o.size(dim), o.stride(dim), "index_add_", dim);
  if (o.device().type == DeviceType::CPU && o.is_contiguous() && s.is_contiguous() &&
      off.device().type == DeviceType::CPU && off.is_contiguous() && o.storage() != s.storage() &&
      index_add_contiguous_cpu(o, s, off, dim)) {
    ++out.storage()->version;
    return out_h;
  }
  IntList ost = IntList::filled(s.dim(), 0);
  ost[dim] = 1;
  scatter_by_offset_op.get(out.device().type)(zero_stride_view(o, s.shape(), dim), off.as_strided(s.shape(), ost, 0),
                                              s, true);
  ++out.storage()->version;
  return out_h;
}

// t[idx_0, ..., idx_{K-1}] for K index tensors of one shape B over t's leading dims: a new [B..., t.shape[K:]...].
struct IndexPlan {
  IntList out_shape, t_strides, off_strides;
  Tensor off;
};

IndexPlan plan_index(const Tensor& t, py::handle indices_h, const char* op) {
  py::sequence seq = py::reinterpret_borrow<py::sequence>(indices_h);
  int K = (int)seq.size();
  DLCORE_CHECK(K >= 1 && K <= t.dim(), IndexError, op, "(): too many indices (", K, ") for a tensor of ", t.dim(),
               " dimensions");
  std::vector<Tensor> idx;
  std::vector<int64_t> sizes, strides;
  for (int k = 0; k < K; ++k) {
    const Tensor& i = index_arg(seq[k], op);
    check_same_device(t, i, op);
    idx.push_back(i);
    sizes.push_back(t.size(k));
    strides.push_back(t.stride(k));
  }
  IndexPlan p;
  p.off = index_offsets(idx, sizes, strides, op);
  const IntList& B = idx[0].shape();
  for (int d = 0; d < B.size(); ++d) {
    p.out_shape.push_back(B[d]);
    p.t_strides.push_back(0);
    p.off_strides.push_back(p.off.stride(d));
  }
  for (int d = K; d < t.dim(); ++d) {
    p.out_shape.push_back(t.size(d));
    p.t_strides.push_back(t.stride(d));
    p.off_strides.push_back(0);
  }
  return p;
}

py::object index_get_py(py::handle t_h, py::handle indices_h) {
  const Tensor& t = as_tensor(t_h, "index", "input");
  IndexPlan p = plan_index(t, indices_h, "index");
  Tensor out = Tensor::empty(p.out_shape, t.dtype(), t.device());
  if (!out.numel()) return wrap(out);
  if (t.device().type == DeviceType::CPU && t.is_contiguous() && p.off.is_contiguous() &&
      p.off.device().type == DeviceType::CPU) {
    // contiguous input: every index selects a contiguous block of the trailing dims (the offsets are row * block):
    // one memcpy per index, as index_select ([256,1000][512 indices], 1 thread: 223 -> 50 us; torch 152)
    const int64_t rows = p.off.numel(), block = out.numel() / rows;
    index_select_contiguous_cpu(out.reshape({rows, block}), t.reshape({t.numel() / block, block}),
                                p.off.reshape({rows}), 0);
    return wrap(out);
  }
  gather_by_offset_op.get(t.device().type)(out, t.as_strided(p.out_shape, p.t_strides, t.offset()),
                                           p.off.as_strided(p.out_shape, p.off_strides, 0));
  return wrap(out);
}

py::object index_put_py(py::object t_h, py::handle indices_h, py::handle values_h, bool accumulate) {
  PyTensor& pt = as_py_tensor(t_h, "index_put_", "self");
  check_no_internal_overlap(pt.t, "index_put_");
  const Tensor& t = pt.t;
  const Tensor& v = as_tensor(values_h, "index_put_", "values");
  check_same_device(t, v, "index_put_");
  DLCORE_CHECK(v.dtype() == t.dtype(), TypeError, "index_put_(): values (", dtype_name(v.dtype()),
               ") must have the dtype of self (", dtype_name(t.dtype()), ")");
  IndexPlan p = plan_index(t, indices_h, "index_put_");
  Tensor vals;
  try {
    vals = v.expand(p.out_shape);
  } catch (const std::exception&) {
    DLCORE_THROW(ValueError, "index_put_(): shape mismatch: value tensor of shape ", v.shape().str(),
                 " cannot be broadcast to indexing result of shape ", p.out_shape.str());
  }
  Tensor dst = t.as_strided(p.out_shape, p.t_strides, t.offset());
  if (numel_of(p.out_shape) == 0) return t_h;
  if (vals.storage() == t.storage()) vals = vals.clone();
  scatter_by_offset_op.get(t.device().type)(dst, p.off.as_strided(p.out_shape, p.off_strides, 0), vals, accumulate);
  ++t.storage()->version;
  return t_h;
}

// F.pad's reflect / replicate / circular modes (python/dlcore/_nn_extra.py builds the maps): out[..., i1..ik] =
// x[..., maps[0][i1], ..]. The CPU has its own row kernels; other devices gather through combined offsets.
struct PadMaps {
  IntList out_shape;
  std::vector<std::vector<int64_t>> maps;
};

PadMaps check_pad_maps(const IntList& in_shape, std::vector<std::vector<int64_t>> maps, const char* what) {
  int k = (int)maps.size(), nd = in_shape.size();
  DLCORE_CHECK(k >= 1 && k <= 3 && k <= nd, ValueError, "pad(): ", what, " takes 1 to 3 index maps for the last dims "
               "of the input, got ", k, " for shape ", in_shape.str());
  PadMaps r;
  r.out_shape = in_shape;
  for (int j = 0; j < k; ++j) {
    int64_t n = in_shape[nd - k + j];
    for (int64_t v : maps[j])
      DLCORE_CHECK(v >= 0 && v < n, IndexError, "pad(): ", what, " index ", v, " out of range for dim ", nd - k + j,
                   " of size ", n);
    r.out_shape[nd - k + j] = (int64_t)maps[j].size();
  }
  r.maps = std::move(maps);
  return r;
}

// Element offsets [O1..Ok] of the maps in a contiguous tensor of shape `shape`, broadcast (stride 0) over the
// leading dims of out_shape, on `dev`.
Tensor pad_offsets(const IntList& shape, const PadMaps& pm, Device dev) {
  int k = (int)pm.maps.size(), nd = shape.size();
  IntList osz = IntList::filled(k, 0);
  for (int j = 0; j < k; ++j) osz[j] = (int64_t)pm.maps[j].size();
  Tensor off = Tensor::zeros(osz, DType::Int64, Device());
  int64_t* o = off.data<int64_t>();
  int64_t n = off.numel();
  std::vector<int64_t> idx(k, 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t v = 0, stride = 1;
    for (int j = k - 1; j >= 0; --j) {
      v += pm.maps[j][idx[j]] * stride;
      stride *= shape[nd - k + j];
    }
    o[e] = v;
    for (int j = k - 1; j >= 0 && ++idx[j] == osz[j]; --j) idx[j] = 0;
  }
  off = off.to(dev);
  IntList st = IntList::filled(nd, 0);
  for (int j = 0; j < k; ++j) st[nd - k + j] = off.stride(j);
  return off.as_strided(pm.out_shape, st, 0);
}

// The view of contiguous t (shape `shape`) with out_shape and stride 0 along the padded dims.
Tensor pad_base_view(const Tensor& t, const PadMaps& pm) {
  int k = (int)pm.maps.size(), nd = t.dim();
  IntList st = t.strides();
  for (int j = nd - k; j < nd; ++j) st[j] = 0;
  return t.as_strided(pm.out_shape, st, t.offset());
}

py::object pad_index_py(py::handle x_h, std::vector<std::vector<int64_t>> maps) {
  Tensor x = as_tensor(x_h, "pad", "input").contiguous();
  PadMaps pm = check_pad_maps(x.shape(), std::move(maps), "index");
  Tensor out = Tensor::empty(pm.out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return wrap(out);
  if (x.device().type == DeviceType::CPU) {
    pad_index_op.get(DeviceType::CPU)(out, x, pm.maps);
  } else {
    gather_by_offset_op.get(x.device().type)(out, pad_base_view(x, pm), pad_offsets(x.shape(), pm, x.device()));
  }
  return wrap(out);
}

// _lerp_dim(x, dim, i0, i1, w0, w1) / _lerp_dim_backward(g, dim, n, i0, i1, w0, w1): the two-tap resampling
// of index.h on contiguous cpu float32/float64 tensors (interpolate's linear modes).
py::object lerp_dim_py(py::handle x_h, int64_t dim, std::vector<int64_t> i0, std::vector<int64_t> i1,
                       std::vector<double> w0, std::vector<double> w1, int64_t n_in, bool backward) {
  const char* op = backward ? "interpolate_backward" : "interpolate";
  Tensor x = as_tensor(x_h, op, backward ? "grad_output" : "input");
  DLCORE_CHECK(x.device().type == DeviceType::CPU && (x.dtype() == DType::Float32 || x.dtype() == DType::Float64),
               TypeError, op, "(): the linear resampling kernel takes float32/float64 cpu tensors, got ", x.describe());
  DLCORE_CHECK(x.dim() >= 1 && dim >= 0 && dim < x.dim(), ValueError, op, "(): dim ", dim, " out of range for ",
               x.describe());
  const int64_t m = (int64_t)i0.size(), n = backward ? n_in : x.size(dim);
  DLCORE_CHECK(i1.size() == i0.size() && w0.size() == i0.size() && w1.size() == i0.size() &&
                   (!backward || x.size(dim) == m),
               ValueError, op, "(): index and weight lists must have the output size ", m, " along dim ", dim);
  for (int64_t j = 0; j < m; ++j)
    DLCORE_CHECK(i0[j] >= 0 && i0[j] < n && i1[j] >= 0 && i1[j] < n, IndexError, op, "(): source index out of range ",
                 "[0, ", n, ")");
  x = x.contiguous();
  int64_t O = 1, I = 1;
  for (int64_t d = 0; d < dim; ++d) O *= x.size(d);
  for (int64_t d = dim + 1; d < x.dim(); ++d) I *= x.size(d);
  IntList shape = x.shape();
  shape[dim] = backward ? n : m;
  Tensor out = backward && x.numel() == 0 ? Tensor::zeros(shape, x.dtype(), x.device())
                                           : Tensor::empty(shape, x.dtype(), x.device());
  if (x.numel() == 0 || out.numel() == 0) return wrap(out);
  if (backward) lerp_dim_backward_cpu(out, x, O, n, I, i0, i1, w0, w1);
  else lerp_dim_cpu(out, x, O, n, I, i0, i1, w0, w1);
  return wrap(out);
}

py::object pad_index_backward_py(py::handle g_h, std::vector<std::vector<int64_t>> maps, std::vector<int64_t> in_shape) {
  Tensor g = as_tensor(g_h, "pad", "grad_output").contiguous();
  PadMaps pm = check_pad_maps(IntList(in_shape), std::move(maps), "backward");
  DLCORE_CHECK(g.shape() == pm.out_shape, ValueError, "pad(): backward got a gradient of shape ", g.shape().str(),
               ", expected ", pm.out_shape.str());
  DLCORE_CHECK(g.dtype() == DType::Float32 || g.dtype() == DType::Float64, TypeError,
               "pad(): the backward of reflect/replicate/circular padding takes float32 or float64, got ",
               dtype_name(g.dtype()));
  if (g.device().type == DeviceType::CPU) {
    Tensor gin = Tensor::empty(IntList(in_shape), g.dtype(), g.device());
    pad_index_backward_op.get(DeviceType::CPU)(gin, g, pm.maps);
    return wrap(gin);
  }
  Tensor gin = Tensor::zeros(IntList(in_shape), g.dtype(), g.device());
  if (g.numel() == 0) return wrap(gin);
  scatter_by_offset_op.get(g.device().type)(pad_base_view(gin, pm), pad_offsets(gin.shape(), pm, g.device()), g, true);
  return wrap(gin);
}

// The tensors of a list or tuple for cat/stack's native happy paths: false (the Python path then checks and
// reports) unless dim is an int and every element is a cpu tensor that needs no gradient. dt: the dtype promoted
// over all of them; skip_empty_1d drops 1-D empty tensors from ts (cat's rule) after they joined the promotion.
bool plain_cpu_tensors(py::handle seq_h, py::handle dim_h, std::vector<Tensor>& ts, DType& dt, bool skip_empty_1d) {
  if (!PyList_Check(seq_h.ptr()) && !PyTuple_Check(seq_h.ptr())) return false;
  if (!PyLong_Check(dim_h.ptr()) || PyBool_Check(dim_h.ptr())) return false;
  py::sequence seq = py::reinterpret_borrow<py::sequence>(seq_h);
  const bool grad = autograd_grad_enabled();
  ts.reserve(seq.size());
  bool first = true;
  for (py::handle h : seq) {
    if (!is_tensor(h)) return false;
    const PyTensor& p = h.cast<const PyTensor&>();
    if (p.t.device().type != DeviceType::CPU || (grad && p.requires_grad)) return false;
    dt = first ? p.t.dtype() : promote_types(dt, p.t.dtype());
    first = false;
    if (skip_empty_1d && p.t.dim() == 1 && p.t.size(0) == 0) continue;
    ts.push_back(p.t);
  }
  return true;
}

void bind_index(py::module_& m) {
  m.def("gather", &gather_py, py::arg("input"), py::arg("dim"), py::arg("index"),
        "out[p] = input[p with p[dim] = index[p]] (index int64, same ndim).");
  m.def("scatter_", [](py::object o, int64_t d, py::handle i, py::handle s) { return scatter_py(o, d, i, s, false); },
        py::arg("self"), py::arg("dim"), py::arg("index"), py::arg("src"));
  m.def("scatter_add_", [](py::object o, int64_t d, py::handle i, py::handle s) { return scatter_py(o, d, i, s, true); },
        py::arg("self"), py::arg("dim"), py::arg("index"), py::arg("src"));
  m.def("index_select", &index_select_py, py::arg("input"), py::arg("dim"), py::arg("index"));
  // flip / roll / tril / triu of a cpu tensor (_rearrange.py's fast paths; other devices compose index ops)
  m.def("_flip_roll_cpu", [](py::handle x_h, const std::vector<int64_t>& flip_dims,
                             const std::vector<int64_t>& shifts) {
    const Tensor& x0 = as_tensor(x_h, "flip", "input");
    DLCORE_CHECK(x0.device().type == DeviceType::CPU, ValueError, "_flip_roll_cpu(): a cpu tensor is needed");
    DLCORE_CHECK((int64_t)shifts.size() == x0.dim(), ValueError, "_flip_roll_cpu(): one shift per dim");
    Tensor x = x0.contiguous();
    std::vector<bool> flip(x.dim(), false);
    std::vector<int64_t> shift(x.dim(), 0);
    for (int64_t d : flip_dims) flip[norm_dim(d, x.dim(), "flip")] = true;
    for (int d = 0; d < x.dim(); ++d) {
      const int64_t n = x.size(d);
      shift[d] = n ? ((shifts[d] % n) + n) % n : 0;
    }
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (out.numel()) flip_roll_contiguous_cpu(out, x, flip, shift);
    return wrap(out);
  });
  // cat of cpu tensors (checked in Python: same rank and sizes but along dim) into a new tensor of dtype (index.h)
  m.def("_cat_cpu", [](py::sequence seq, int64_t dim, py::handle dtype) {
    std::vector<Tensor> ts;
    ts.reserve(seq.size());
    for (py::handle h : seq) ts.push_back(as_tensor(h, "cat", "tensors"));
    return wrap(cat_cpu(ts, (int)dim, to_dtype(dtype, "cat")));
  });
  // cat's happy path in one native call (python/dlcore/_indexing.py: cat): cpu tensors that need no gradient,
  // same rank >= 1, sizes equal but along dim (1-D empty tensors skipped, as torch). None for anything else (a
  // non-tensor, another device, a tensor requiring grad, a bad dim or shape), which the Python path then handles
  // and reports. Saves the ~6 us of the Python checks per call.
  m.def("_cat_fast_cpu", [](py::handle seq_h, py::handle dim_h) -> py::object {
    std::vector<Tensor> ts;
    DType dt;
    if (!plain_cpu_tensors(seq_h, dim_h, ts, dt, true) || ts.empty() || ts[0].dim() == 0) return py::none();
    const int nd = ts[0].dim();
    const int64_t dim = dim_h.cast<int64_t>();
    if (dim < -nd || dim >= nd) return py::none();
    const int d = (int)(dim < 0 ? dim + nd : dim);
    for (const Tensor& t : ts) {
      if (t.dim() != nd) return py::none();
      for (int k = 0; k < nd; ++k)
        if (k != d && t.size(k) != ts[0].size(k)) return py::none();
    }
    return wrap(cat_cpu(ts, d, dt));
  });
  // stack's happy path (as _cat_fast_cpu): cpu tensors of one shape that need no gradient; None otherwise.
  m.def("_stack_fast_cpu", [](py::handle seq_h, py::handle dim_h) -> py::object {
    std::vector<Tensor> ts;
    DType dt;
    if (!plain_cpu_tensors(seq_h, dim_h, ts, dt, false) || ts.empty()) return py::none();
    for (const Tensor& t : ts)
      if (t.shape() != ts[0].shape()) return py::none();
    const int nd = ts[0].dim() + 1;
    const int64_t dim = dim_h.cast<int64_t>();
    if (dim < -nd || dim >= nd) return py::none();
    const int d = (int)(dim < 0 ? dim + nd : dim);
    for (Tensor& t : ts) t = t.unsqueeze(d);
    return wrap(cat_cpu(ts, d, dt));
  });
  // bincount of a contiguous 1-D int64 cpu tensor (non-negative values < size, checked by the caller) without
  // weights: one counting pass per thread into its own counts, summed (was zeros + scatter_add of ones).
  m.def("_bincount_cpu", [](py::handle x_h, int64_t size) {
    const Tensor& x = as_tensor(x_h, "bincount", "input");
    DLCORE_CHECK(x.dim() == 1 && x.dtype() == DType::Int64 && x.device().type == DeviceType::CPU && x.is_contiguous(),
                 ValueError, "_bincount_cpu(): a contiguous 1-D int64 cpu tensor is needed");
    return wrap(bincount_cpu(x, size));
  });
  m.def("_triangle_cpu", [](py::handle x_h, int64_t diagonal, bool upper) {
    const Tensor& x0 = as_tensor(x_h, upper ? "triu" : "tril", "input");
    DLCORE_CHECK(x0.device().type == DeviceType::CPU && x0.dim() >= 2, ValueError,
                 "_triangle_cpu(): a cpu tensor of 2 or more dims is needed");
    Tensor x = x0.contiguous();
    Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (out.numel()) triangle_contiguous_cpu(out, x, diagonal, upper);
    return wrap(out);
  });
  m.def("index_add_", &index_add_py, py::arg("self"), py::arg("dim"), py::arg("index"), py::arg("source"));
  m.def("index_get", &index_get_py, py::arg("input"), py::arg("indices"),
        "input[indices[0], ..., indices[K-1]] over the leading K dims (indices: int64, one shape).");
  m.def("index_put_", &index_put_py, py::arg("self"), py::arg("indices"), py::arg("values"),
        py::arg("accumulate") = false);
  m.def("pad_index", &pad_index_py, py::arg("input"), py::arg("maps"));
  m.def("_pixel_shuffle_cpu", [](const PyTensor& x, int64_t r, bool inverse) {
    return wrap(pixel_shuffle_cpu(x.t, r, inverse));
  });
  m.def("_grid_sample2d", [](const PyTensor& x, const PyTensor& grid, bool nearest, int padding, bool align) {
    return wrap(grid_sample2d_cpu(x.t, grid.t, nearest, padding, align));
  });
  m.def("_grid_sample2d_backward", [](const PyTensor& g, const PyTensor& x, const PyTensor& grid, bool nearest,
                                      int padding, bool align, bool need_x, bool need_grid) {
    auto r = grid_sample2d_backward_cpu(g.t, x.t, grid.t, nearest, padding, align, need_x, need_grid);
    return py::make_tuple(r.first.defined() ? wrap(r.first) : py::object(py::none()),
                          r.second.defined() ? wrap(r.second) : py::object(py::none()));
  });
  m.def("_lerp_dim", [](py::handle x, int64_t dim, std::vector<int64_t> i0, std::vector<int64_t> i1,
                        std::vector<double> w0, std::vector<double> w1) {
    return lerp_dim_py(x, dim, std::move(i0), std::move(i1), std::move(w0), std::move(w1), 0, false);
  });
  m.def("_lerp_dim_backward", [](py::handle g, int64_t dim, int64_t n, std::vector<int64_t> i0, std::vector<int64_t> i1,
                                 std::vector<double> w0, std::vector<double> w1) {
    return lerp_dim_py(g, dim, std::move(i0), std::move(i1), std::move(w0), std::move(w1), n, true);
  });
  m.def("pad_index_backward", &pad_index_backward_py, py::arg("grad_output"), py::arg("maps"), py::arg("input_shape"));
  m.def("_nonzero_device", [](py::handle x) {  // the kernel of nonzero (index.h) on x's device
    Tensor t = as_tensor(x, "nonzero", "input");
    return wrap(nonzero_op.get(t.device().type)(t));
  }, py::arg("input"));
}

}  // namespace

static BindingRegistrar reg("index", &bind_index);

}  // namespace dlcore
