// The tensor class (dlcore.Tensor), dtypes, devices, NumPy/buffer/DLPack interop and the view primitives.
#include <pybind11/numpy.h>

#include <cstring>
#include <memory>

#include "bindings/binder.h"
#include "bindings/dlpack.h"
#include "bindings/py_tensor.h"
#include "core/overlap.h"
#include "core/allocator.h"

namespace dlcore {

// ------------------------------------------------------------------------------------------------ helpers

py::object wrap(Tensor t) { return py::cast(PyTensor(std::move(t)), py::return_value_policy::move); }

PyTensor& as_py_tensor(py::handle h, const char* op, const char* arg) {
  if (DLCORE_LIKELY(py::isinstance<PyTensor>(h))) return h.cast<PyTensor&>();
  DLCORE_THROW(TypeError, op, "(): argument '", arg, "' must be a Tensor, not ",
               type_name(h));
}

bool to_scalar(py::handle h, ScalarArg& out) {
  PyObject* o = h.ptr();
  if (PyBool_Check(o)) {
    out.kind = ScalarArg::Bool;
    out.i = o == Py_True;
    out.d = (double)out.i;
    return true;
  }
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow) throw ValueError("integer value " + std::string(py::str(h)) + " does not fit in int64");
    out.kind = ScalarArg::Int;
    out.i = v;
    out.d = (double)v;
    return true;
  }
  if (PyFloat_Check(o)) {
    out.kind = ScalarArg::Float;
    out.d = PyFloat_AS_DOUBLE(o);
    return true;
  }
  if (is_tensor(h)) return false;
  // NumPy scalars (np.float32(2), np.int64(3), ...)
  static py::handle np_generic = py::object(py::module_::import("numpy").attr("generic")).release();
  if (PyObject_IsInstance(o, np_generic.ptr()) == 1) {
    py::object v = h.attr("item")();
    return to_scalar(v, out);
  }
  return false;
}

IntList to_intlist(py::handle h, const char* op, const char* what) {
  IntList out;
  if (PyLong_Check(h.ptr())) {
    out.push_back(PyLong_AsLongLong(h.ptr()));
    return out;
  }
  if (is_tensor(h)) {
    Tensor t = h.cast<PyTensor&>().t;
    DLCORE_CHECK(!is_floating(t.dtype()) && t.dim() <= 1, TypeError, op, ": ", what,
                 " must be a sequence of ints, got a ", t.describe(), " tensor");
    Tensor c = t.to(Device()).to(DType::Int64).contiguous();
    for (int64_t i = 0; i < c.numel(); ++i) out.push_back(c.data<int64_t>()[i]);
    return out;
  }
  if (!py::isinstance<py::sequence>(h) || py::isinstance<py::str>(h))
    DLCORE_THROW(TypeError, op, ": ", what, " must be a sequence of ints, got ",
                 type_name(h));
  py::sequence seq = py::reinterpret_borrow<py::sequence>(h);
  DLCORE_CHECK((int)seq.size() <= kMaxDims, ValueError, op, ": ", what, " has ", seq.size(),
               " entries; dlcore supports at most ", kMaxDims, " dimensions");
  // Each item held by an object: a sequence like a NumPy array makes a new object per item, which a bare handle
  // taken from the iterator's temporary would leave dangling (a use-after-free with np.array shapes).
  for (size_t i = 0, n = seq.size(); i < n; ++i) {
    py::object item = seq[i];
    if (PyLong_Check(item.ptr()) && !PyBool_Check(item.ptr())) {
      out.push_back(PyLong_AsLongLong(item.ptr()));
    } else if (py::hasattr(item, "__index__") && !PyFloat_Check(item.ptr())) {
      out.push_back(item.attr("__index__")().cast<int64_t>());
    } else {
      DLCORE_THROW(TypeError, op, ": ", what, " must contain only ints, got ",
                   type_name(item), " (", std::string(py::repr(item)), ")");
    }
  }
  return out;
}

py::tuple to_tuple(const IntList& l) {
  py::tuple t(l.size());
  for (int i = 0; i < l.size(); ++i) t[i] = py::int_(l[i]);
  return t;
}

py::dtype numpy_dtype(DType d, const char* op) {
  switch (d) {
    case DType::Bool: return py::dtype("bool");
    case DType::UInt8: return py::dtype("uint8");
    case DType::Int8: return py::dtype("int8");
    case DType::Int16: return py::dtype("int16");
    case DType::Int32: return py::dtype("int32");
    case DType::Int64: return py::dtype("int64");
    case DType::Float16: return py::dtype("float16");
    case DType::Float32: return py::dtype("float32");
    case DType::Float64: return py::dtype("float64");
    case DType::BFloat16: break;
  }
  DLCORE_THROW(TypeError, op, ": NumPy has no bfloat16 dtype; convert with .float() first");
}

DType from_numpy_dtype(const py::dtype& dt, const char* op) {
  char kind = dt.kind();
  int size = (int)dt.itemsize();
  if (kind == 'b') return DType::Bool;
  if (kind == 'u' && size == 1) return DType::UInt8;
  if (kind == 'i' && size == 1) return DType::Int8;
  if (kind == 'i' && size == 2) return DType::Int16;
  if (kind == 'i' && size == 4) return DType::Int32;
  if (kind == 'i' && size == 8) return DType::Int64;
  if (kind == 'f' && size == 2) return DType::Float16;
  if (kind == 'f' && size == 4) return DType::Float32;
  if (kind == 'f' && size == 8) return DType::Float64;
  DLCORE_THROW(TypeError, op, ": NumPy dtype ", std::string(py::str(dt)),
               " is not supported (dlcore has bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)");
}

DType to_dtype(py::handle h, const char* op) {
  if (py::isinstance<DType>(h)) return h.cast<DType>();
  if (h.is_none()) return DType::Float32;
  if (h.ptr() == (PyObject*)&PyFloat_Type) return DType::Float64;
  if (h.ptr() == (PyObject*)&PyLong_Type) return DType::Int64;
  if (h.ptr() == (PyObject*)&PyBool_Type) return DType::Bool;
  if (py::isinstance<py::str>(h)) {
    std::string s = h.cast<std::string>();
    for (int i = 0; i < kNumDTypes; ++i)
      if (s == dtype_name((DType)i)) return (DType)i;
  }
  try {
    py::dtype dt = py::dtype::from_args(py::reinterpret_borrow<py::object>(h));
    return from_numpy_dtype(dt, op);
  } catch (const py::error_already_set&) {
  }
  DLCORE_THROW(TypeError, op, ": expected a dtype such as dlcore.float32, got ", std::string(py::repr(h)));
}

Device to_device(py::handle h, const char* op) {
  if (h.is_none()) return Device();
  if (py::isinstance<Device>(h)) return h.cast<Device>();
  if (py::isinstance<py::str>(h)) return Device::parse(h.cast<std::string>());
  if (PyLong_Check(h.ptr())) return Device(DeviceType::CUDA, (int)PyLong_AsLong(h.ptr()));
  DLCORE_THROW(TypeError, op, ": expected a device (e.g. 'cpu', 'cuda:0' or dlcore.device), got ",
               std::string(py::repr(h)));
}

py::object dtype_object(DType d) { return py::cast(d); }

// ------------------------------------------------------------------------------------------------ numpy

namespace {

struct StorageKeeper {  // a NumPy array's base: keeps the tensor's storage alive
  std::shared_ptr<Storage> storage;
};

py::array to_numpy(const Tensor& t) {
  DLCORE_CHECK(t.device().is_cpu(), TypeError, "numpy: can't convert a ", t.device().str(),
               " tensor to NumPy; copy it to the host first with .cpu()");
  py::dtype dt = numpy_dtype(t.dtype(), "numpy");
  std::vector<py::ssize_t> shape(t.dim()), strides(t.dim());
  for (int i = 0; i < t.dim(); ++i) {
    shape[i] = t.size(i);
    strides[i] = t.stride(i) * (py::ssize_t)t.itemsize();
  }
  py::object base = py::cast(StorageKeeper{t.storage()});
  return py::array(dt, shape, strides, t.raw_data(), base);
}

struct ArrayOwner {  // keeps a NumPy array alive while a tensor views its memory
  py::object array;
  ~ArrayOwner() {
    py::gil_scoped_acquire g;
    array = py::object();
  }
};

Tensor from_numpy_array(py::array arr) {
  DType dt = from_numpy_dtype(arr.dtype(), "from_numpy");
  DLCORE_CHECK(arr.dtype().attr("isnative").cast<bool>(), ValueError, "from_numpy: the NumPy array (dtype ",
               std::string(py::str(arr.dtype().attr("str"))), ") has a byte order different from the native byte "
               "order; convert it with array.astype(array.dtype.newbyteorder('=')) first, or use dlcore.tensor()");
  int nd = (int)arr.ndim();
  DLCORE_CHECK(nd <= kMaxDims, ValueError, "from_numpy: arrays of more than ", kMaxDims,
               " dimensions are not supported");
  IntList shape, strides;
  std::size_t isz = itemsize(dt);
  int64_t lo = 0, hi = 0;
  for (int i = 0; i < nd; ++i) {
    int64_t bs = arr.strides(i);
    shape.push_back(arr.shape(i));
    DLCORE_CHECK(bs >= 0, ValueError, "from_numpy: arrays with negative strides are not supported "
                 "(e.g. from a[::-1]); make a copy with numpy.ascontiguousarray first");
    DLCORE_CHECK(bs % (int64_t)isz == 0, ValueError, "from_numpy: array strides ", bs,
                 " are not a multiple of the element size ", isz, "; make a copy first");
    strides.push_back(bs / (int64_t)isz);
    if (arr.shape(i) > 0) hi += (arr.shape(i) - 1) * bs;
    (void)lo;
  }
  auto owner = std::make_shared<ArrayOwner>();
  owner->array = arr;
  std::size_t nbytes = arr.size() == 0 ? 0 : (std::size_t)hi + isz;
  auto st = Storage::wrap(const_cast<void*>(arr.data()), nbytes, Device(), owner);
  return Tensor(st, shape, strides, 0, dt);
}

// ------------------------------------------------------------------------------------------------ dlpack

struct DLPackContext {
  Tensor t;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
};

DLDataType dl_dtype(DType d) {
  switch (d) {
    case DType::Bool: return {kDLBool, 8, 1};
    case DType::UInt8: return {kDLUInt, 8, 1};
    case DType::Int8: return {kDLInt, 8, 1};
    case DType::Int16: return {kDLInt, 16, 1};
    case DType::Int32: return {kDLInt, 32, 1};
    case DType::Int64: return {kDLInt, 64, 1};
    case DType::Float16: return {kDLFloat, 16, 1};
    case DType::BFloat16: return {kDLBfloat, 16, 1};
    case DType::Float32: return {kDLFloat, 32, 1};
    case DType::Float64: return {kDLFloat, 64, 1};
  }
  return {kDLFloat, 32, 1};
}

DType from_dl_dtype(DLDataType d) {
  DLCORE_CHECK(d.lanes == 1, TypeError, "from_dlpack: vector dtypes (lanes=", d.lanes, ") are not supported");
  if (d.code == kDLBool && d.bits == 8) return DType::Bool;
  if (d.code == kDLUInt && d.bits == 8) return DType::UInt8;
  if (d.code == kDLInt && d.bits == 8) return DType::Int8;
  if (d.code == kDLInt && d.bits == 16) return DType::Int16;
  if (d.code == kDLInt && d.bits == 32) return DType::Int32;
  if (d.code == kDLInt && d.bits == 64) return DType::Int64;
  if (d.code == kDLFloat && d.bits == 16) return DType::Float16;
  if (d.code == kDLBfloat && d.bits == 16) return DType::BFloat16;
  if (d.code == kDLFloat && d.bits == 32) return DType::Float32;
  if (d.code == kDLFloat && d.bits == 64) return DType::Float64;
  DLCORE_THROW(TypeError, "from_dlpack: unsupported DLPack dtype (code ", (int)d.code, ", bits ", (int)d.bits, ")");
}

template <class M>
void fill_dltensor(M* m, DLPackContext* ctx) {
  const Tensor& t = ctx->t;
  for (int i = 0; i < t.dim(); ++i) {
    ctx->shape[i] = t.size(i);
    ctx->strides[i] = t.stride(i);
  }
  DLTensor& d = m->dl_tensor;
  d.data = t.storage()->data;
  d.byte_offset = (uint64_t)t.offset() * t.itemsize();
  d.device = DLDevice{t.device().is_cpu() ? kDLCPU : kDLCUDA, t.device().is_cpu() ? 0 : t.device().index};
  d.ndim = t.dim();
  d.dtype = dl_dtype(t.dtype());
  d.shape = ctx->shape;
  d.strides = ctx->strides;
  m->manager_ctx = ctx;
}

void legacy_deleter(DLManagedTensor* m) {
  delete static_cast<DLPackContext*>(m->manager_ctx);
  delete m;
}
void versioned_deleter(DLManagedTensorVersioned* m) {
  delete static_cast<DLPackContext*>(m->manager_ctx);
  delete m;
}

py::capsule to_dlpack(const Tensor& t, bool versioned) {
  auto* ctx = new DLPackContext{t, {}, {}};
  if (versioned) {
    auto* m = new DLManagedTensorVersioned();
    m->version = {1, 0};
    m->flags = 0;
    m->deleter = versioned_deleter;
    fill_dltensor(m, ctx);
    return py::capsule(m, "dltensor_versioned", [](PyObject* cap) {
      if (PyCapsule_IsValid(cap, "dltensor_versioned")) {
        auto* mt = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, "dltensor_versioned"));
        if (mt && mt->deleter) mt->deleter(mt);
      }
    });
  }
  auto* m = new DLManagedTensor();
  m->deleter = legacy_deleter;
  fill_dltensor(m, ctx);
  return py::capsule(m, "dltensor", [](PyObject* cap) {
    if (PyCapsule_IsValid(cap, "dltensor")) {
      auto* mt = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
      if (mt && mt->deleter) mt->deleter(mt);
    }
  });
}

template <class M>
struct DLOwner {
  M* m;
  ~DLOwner() {
    py::gil_scoped_acquire g;
    if (m && m->deleter) m->deleter(m);
  }
};

Tensor from_dltensor(const DLTensor& d, std::shared_ptr<void> owner) {
  Device dev;
  if (d.device.device_type == kDLCPU) dev = Device();
  else if (d.device.device_type == kDLCUDA) dev = Device(DeviceType::CUDA, d.device.device_id);
  else DLCORE_THROW(RuntimeError, "from_dlpack: unsupported DLPack device type ", d.device.device_type,
                    " (dlcore takes cpu and cuda tensors)");
  if (dev.is_cuda()) {
    // Only a build with a cuda device (real or emulated) can hold cuda memory.
    device_allocator(DeviceType::CUDA);
  }
  DType dt = from_dl_dtype(d.dtype);
  DLCORE_CHECK(d.ndim >= 0 && d.ndim <= kMaxDims, ValueError, "from_dlpack: ", d.ndim, " dimensions not supported");
  IntList shape(d.shape, d.ndim);
  IntList strides;
  if (d.strides) {
    strides = IntList(d.strides, d.ndim);
    for (int i = 0; i < d.ndim; ++i)
      DLCORE_CHECK(strides[i] >= 0 || shape[i] <= 1, ValueError,
                   "from_dlpack: negative strides are not supported; make a contiguous copy first");
    for (int i = 0; i < d.ndim; ++i)
      if (strides[i] < 0) strides[i] = 0;
  } else {
    strides = contiguous_strides(shape);
  }
  int64_t numel = numel_of(shape);
  __int128 hi = 0;  // 128-bit: a producer's strides must not wrap the extent around
  for (int i = 0; i < d.ndim; ++i)
    if (shape[i] > 0) hi += (__int128)(shape[i] - 1) * strides[i];
  std::size_t isz = itemsize(dt);
  DLCORE_CHECK((hi + 1) * (__int128)isz < ((__int128)1 << 62), ValueError, "from_dlpack: shape ", shape.str(),
               " and strides ", strides.str(), " span more memory than can be addressed");
  std::size_t nbytes = numel == 0 ? 0 : (std::size_t)(hi + 1) * isz;
  char* base = static_cast<char*>(d.data) + d.byte_offset;
  auto st = Storage::wrap(base, nbytes, dev, std::move(owner));
  return Tensor(st, shape, strides, 0, dt);
}

Tensor from_dlpack_capsule(py::capsule cap) {
  PyObject* o = cap.ptr();
  if (PyCapsule_IsValid(o, "dltensor_versioned")) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(o, "dltensor_versioned"));
    DLCORE_CHECK(m->version.major <= 1, RuntimeError, "from_dlpack: DLPack version ", m->version.major, ".",
                 m->version.minor, " is newer than this dlcore understands (1.x)");
    PyCapsule_SetName(o, "used_dltensor_versioned");
    auto owner = std::make_shared<DLOwner<DLManagedTensorVersioned>>();
    owner->m = m;
    return from_dltensor(m->dl_tensor, owner);
  }
  if (PyCapsule_IsValid(o, "dltensor")) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(o, "dltensor"));
    PyCapsule_SetName(o, "used_dltensor");
    auto owner = std::make_shared<DLOwner<DLManagedTensor>>();
    owner->m = m;
    return from_dltensor(m->dl_tensor, owner);
  }
  DLCORE_THROW(ValueError, "from_dlpack: the capsule is not an unconsumed DLPack tensor (already used?)");
}

Tensor from_dlpack_object(py::object obj) {
  if (is_tensor(obj)) return obj.cast<PyTensor&>().t;
  if (py::isinstance<py::capsule>(obj)) return from_dlpack_capsule(obj);
  DLCORE_CHECK(py::hasattr(obj, "__dlpack__"), TypeError, "from_dlpack: expected an object with __dlpack__ or a "
               "DLPack capsule, got ", type_name(obj));
  py::object cap;
  try {
    cap = obj.attr("__dlpack__")(py::arg("max_version") = py::make_tuple(1, 0));
  } catch (const py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;
    cap = obj.attr("__dlpack__")();
  }
  return from_dlpack_capsule(cap);
}

// ------------------------------------------------------------------------------------------------ bindings

void bind_tensor(py::module_& m) {
  py::enum_<DType>(m, "dtype")
      .value("bool", DType::Bool)
      .value("uint8", DType::UInt8)
      .value("int8", DType::Int8)
      .value("int16", DType::Int16)
      .value("int32", DType::Int32)
      .value("int64", DType::Int64)
      .value("float16", DType::Float16)
      .value("bfloat16", DType::BFloat16)
      .value("float32", DType::Float32)
      .value("float64", DType::Float64)
      .def("__repr__", [](DType d) { return std::string("dlcore.") + dtype_name(d); })
      .def("__str__", [](DType d) { return std::string("dlcore.") + dtype_name(d); })
      .def_property_readonly("is_floating_point", [](DType d) { return is_floating(d); })
      .def_property_readonly("itemsize", [](DType d) { return itemsize(d); })
      .def_property_readonly("name", [](DType d) { return std::string(dtype_name(d)); })
      .def("to_numpy", [](DType d) { return numpy_dtype(d, "dtype.to_numpy"); });

  py::class_<Device>(m, "device")
      .def(py::init([](py::object spec, py::object index) {
             Device d = to_device(spec, "device");
             if (!index.is_none()) {
               DLCORE_CHECK(d.is_cuda(), ValueError, "device: an index is only meaningful for cuda");
               d.index = index.cast<int>();
             }
             return d;
           }),
           py::arg("type"), py::arg("index") = py::none())
      .def_property_readonly("type", [](const Device& d) { return std::string(device_type_name(d.type)); })
      .def_property_readonly("index", [](const Device& d) -> py::object {
        if (d.is_cpu()) return py::none();
        return py::int_(d.index);
      })
      .def("__str__", &Device::str)
      .def("__repr__", [](const Device& d) {
        if (d.is_cpu()) return std::string("device(type='cpu')");
        return "device(type='cuda', index=" + std::to_string(d.index) + ")";
      })
      .def("__eq__", [](const Device& a, py::object b) {
        if (py::isinstance<Device>(b)) return a == b.cast<Device>();
        if (py::isinstance<py::str>(b)) {
          try {
            return a == Device::parse(b.cast<std::string>());
          } catch (const ValueError&) {
            return false;
          }
        }
        return false;
      })
      .def("__hash__", [](const Device& d) { return (int)d.type * 1000 + d.index; });

  py::class_<StorageKeeper>(m, "_StorageKeeper");

  py::class_<PyTensor> cls(m, "Tensor", py::dynamic_attr(), py::buffer_protocol());
  cls.def(py::init([](py::object other) {
        if (is_tensor(other)) return PyTensor(other.cast<PyTensor&>().t);
        DLCORE_THROW(TypeError, "Tensor(): construct tensors with dlcore.tensor(data) or dlcore.empty(shape)");
      }),
      py::arg("data"));
  cls.def_buffer([](PyTensor& self) -> py::buffer_info {
    const Tensor& t = self.t;
    DLCORE_CHECK(t.device().is_cpu(), TypeError, "buffer protocol: a ", t.device().str(),
                 " tensor has no host buffer; use .cpu() first");
    DLCORE_CHECK(t.dtype() != DType::BFloat16, TypeError, "buffer protocol: bfloat16 has no buffer format");
    std::string fmt;
    switch (t.dtype()) {
      case DType::Bool: fmt = "?"; break;
      case DType::UInt8: fmt = "B"; break;
      case DType::Int8: fmt = "b"; break;
      case DType::Int16: fmt = "h"; break;
      case DType::Int32: fmt = "i"; break;
      case DType::Int64: fmt = "q"; break;
      case DType::Float16: fmt = "e"; break;
      case DType::Float32: fmt = "f"; break;
      default: fmt = "d"; break;
    }
    std::vector<py::ssize_t> shape(t.dim()), strides(t.dim());
    for (int i = 0; i < t.dim(); ++i) {
      shape[i] = t.size(i);
      strides[i] = t.stride(i) * (py::ssize_t)t.itemsize();
    }
    return py::buffer_info(t.raw_data(), (py::ssize_t)t.itemsize(), fmt, t.dim(), shape, strides);
  });
  cls.def_property_readonly("shape", [](const PyTensor& s) { return to_tuple(s.t.shape()); });
  cls.def_property_readonly("dtype", [](const PyTensor& s) { return s.t.dtype(); });
  cls.def_property_readonly("device", [](const PyTensor& s) { return s.t.device(); });
  cls.def_property_readonly("ndim", [](const PyTensor& s) { return s.t.dim(); });
  cls.def_property_readonly("is_cuda", [](const PyTensor& s) { return s.t.device().is_cuda(); });
  cls.def_property_readonly("is_cpu", [](const PyTensor& s) { return s.t.device().is_cpu(); });
  cls.def_property_readonly("itemsize", [](const PyTensor& s) { return s.t.itemsize(); });
  cls.def_property_readonly("nbytes", [](const PyTensor& s) { return s.t.nbytes(); });
  cls.def("dim", [](const PyTensor& s) { return s.t.dim(); });
  cls.def("numel", [](const PyTensor& s) { return s.t.numel(); });
  cls.def("element_size", [](const PyTensor& s) { return s.t.itemsize(); });
  cls.def("storage_offset", [](const PyTensor& s) { return s.t.offset(); });
  cls.def("is_contiguous", [](const PyTensor& s) { return s.t.is_contiguous(); });
  cls.def("data_ptr", [](const PyTensor& s) { return (uintptr_t)s.t.raw_data(); });
  cls.def("_storage_ptr", [](const PyTensor& s) { return (uintptr_t)s.t.storage()->data; });
  cls.def("_storage_nbytes", [](const PyTensor& s) { return s.t.storage()->nbytes; });
  cls.def("size", [](const PyTensor& s, py::object dim) -> py::object {
        if (dim.is_none()) return to_tuple(s.t.shape());
        int d = wrap_dim(dim.cast<int64_t>(), s.t.dim(), "size");
        return py::int_(s.t.dim() == 0 ? 1 : s.t.size(d));
      },
      py::arg("dim") = py::none());
  cls.def("stride", [](const PyTensor& s, py::object dim) -> py::object {
        if (dim.is_none()) return to_tuple(s.t.strides());
        int d = wrap_dim(dim.cast<int64_t>(), s.t.dim(), "stride");
        return py::int_(s.t.dim() == 0 ? 1 : s.t.stride(d));
      },
      py::arg("dim") = py::none());
  // autograd fields (the engine is python/dlcore/autograd.py)
  cls.def_property(
      "requires_grad", [](const PyTensor& s) { return s.requires_grad; },
      [](PyTensor& s, bool v) {
        if (v) DLCORE_CHECK(is_floating(s.t.dtype()), RuntimeError,
                            "requires_grad: only tensors of floating point dtype can require gradients, got ",
                            dtype_name(s.t.dtype()));
        if (!v && s.grad_fn && !s.grad_fn.is_none())
          DLCORE_THROW(RuntimeError, "requires_grad: you can only change requires_grad flags of leaf tensors; "
                                     "use .detach() to get a tensor without history");
        s.requires_grad = v;
      });
  cls.def_property(
      "grad", [](const PyTensor& s) -> py::object { return s.grad ? s.grad : py::none(); },
      [](PyTensor& s, py::object g) {
        if (!g.is_none()) {
          const Tensor& gt = as_tensor(g, "grad", "grad");
          DLCORE_CHECK(gt.shape() == s.t.shape(), ValueError, "grad: assigned grad has shape ", gt.shape().str(),
                       " but the tensor has shape ", s.t.shape().str());
          DLCORE_CHECK(gt.dtype() == s.t.dtype(), TypeError, "grad: assigned grad has dtype ",
                       dtype_name(gt.dtype()), " but the tensor has dtype ", dtype_name(s.t.dtype()));
          DLCORE_CHECK(gt.device() == s.t.device(), RuntimeError, "grad: assigned grad is on ", gt.device().str(),
                       " but the tensor is on ", s.t.device().str());
          s.grad = g;
        } else {
          s.grad = py::object();
        }
      });
  cls.def_property(
      "grad_fn", [](const PyTensor& s) -> py::object { return s.grad_fn ? s.grad_fn : py::none(); },
      [](PyTensor& s, py::object f) { s.grad_fn = f.is_none() ? py::object() : f; });
  cls.def_property_readonly("is_leaf", [](const PyTensor& s) { return !s.grad_fn || s.grad_fn.is_none(); });
  cls.def_readwrite("_output_nr", &PyTensor::output_nr);
  cls.def_readwrite("_retains_grad", &PyTensor::retains_grad);
  cls.def_property_readonly("_version", [](const PyTensor& s) { return s.t.storage()->version; });
  cls.def("_bump_version", [](PyTensor& s) { ++s.t.storage()->version; });
  cls.def("_set_data", [](PyTensor& s, py::object other) { s.t = as_tensor(other, "data", "data"); });
  cls.def("_alias", [](const PyTensor& s) { return wrap(s.t); });  // same data, no autograd history
  cls.def("_has_internal_overlap", [](const PyTensor& s) { return has_internal_overlap(s.t); });
  cls.def("_is_same_storage", [](const PyTensor& s, py::object o) {
    return s.t.storage() == as_tensor(o, "_is_same_storage", "other").storage();
  });
  cls.def("numpy", [](const PyTensor& s) { return to_numpy(s.t); });
  cls.def("__dlpack__",
          [](const PyTensor& s, py::object stream, py::object max_version, py::object dl_device, py::object copy) {
            bool versioned = false;
            if (!max_version.is_none()) versioned = max_version.cast<py::tuple>()[0].cast<int>() >= 1;
            if (!copy.is_none() && copy.cast<bool>()) return to_dlpack(s.t.clone(), versioned);
            return to_dlpack(s.t, versioned);
          },
          py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
          py::arg("dl_device") = py::none(), py::arg("copy") = py::none());
  cls.def("__dlpack_device__", [](const PyTensor& s) {
    Device d = s.t.device();
    return py::make_tuple(d.is_cpu() ? (int)kDLCPU : (int)kDLCUDA, d.is_cpu() ? 0 : d.index);
  });

  // ---- free functions: creation, interop and view primitives (the Python layer adds autograd) ----
  m.def("from_numpy", [](py::array a) { return wrap(from_numpy_array(a)); });
  m.def("from_dlpack", [](py::object o) { return wrap(from_dlpack_object(o)); });
  m.def("empty", [](py::handle shape, py::handle dtype, py::handle device) {
    return wrap(Tensor::empty(to_intlist(shape, "empty", "size"), to_dtype(dtype, "empty"), to_device(device, "empty")));
  });
  m.def("zeros", [](py::handle shape, py::handle dtype, py::handle device) {
    return wrap(Tensor::zeros(to_intlist(shape, "zeros", "size"), to_dtype(dtype, "zeros"), to_device(device, "zeros")));
  });
  m.def("full", [](py::handle shape, double value, py::handle dtype, py::handle device) {
    Tensor t = Tensor::empty(to_intlist(shape, "full", "size"), to_dtype(dtype, "full"), to_device(device, "full"));
    check_fill_range(ScalarArg{ScalarArg::Float, value, 0}, t.dtype());
    t.fill(value);
    return wrap(t);
  });
  m.def("full_int", [](py::handle shape, int64_t value, py::handle dtype, py::handle device) {
    DType dt = to_dtype(dtype, "full");
    Tensor t = Tensor::empty(to_intlist(shape, "full", "size"), dt, to_device(device, "full"));
    check_fill_range(ScalarArg{ScalarArg::Int, (double)value, value}, dt);
    if (t.numel() > 0) t.copy_from(scalar_tensor(ScalarArg{ScalarArg::Int, (double)value, value}, dt));
    return wrap(t);
  });
  m.def("view", [](const PyTensor& s, py::handle shape) { return wrap(s.t.view(to_intlist(shape, "view", "shape"))); });
  m.def("reshape", [](const PyTensor& s, py::handle shape) {
    return wrap(s.t.reshape(to_intlist(shape, "reshape", "shape")));
  });
  m.def("transpose", [](const PyTensor& s, int64_t a, int64_t b) {
    return wrap(s.t.transpose((int)a, (int)b));
  });
  m.def("permute", [](const PyTensor& s, py::handle dims) {
    return wrap(s.t.permute(to_intlist(dims, "permute", "dims")));
  });
  m.def("expand", [](const PyTensor& s, py::handle shape) {
    return wrap(s.t.expand(to_intlist(shape, "expand", "size")));
  });
  m.def("squeeze", [](const PyTensor& s, py::object dim) {
    if (dim.is_none()) return wrap(s.t.squeeze_all());
    if (PyLong_Check(dim.ptr())) return wrap(s.t.squeeze(dim.cast<int>()));
    IntList dims = to_intlist(dim, "squeeze", "dim");
    IntList wrapped;
    for (int i = 0; i < dims.size(); ++i) wrapped.push_back(s.t.wrap_dim((int)dims[i], "squeeze"));
    std::sort(wrapped.data(), wrapped.data() + wrapped.size());
    Tensor r = s.t;
    for (int i = wrapped.size() - 1; i >= 0; --i) r = r.squeeze((int)wrapped[i]);
    return wrap(r);
  });
  m.def("unsqueeze", [](const PyTensor& s, int64_t d) { return wrap(s.t.unsqueeze((int)d)); });
  m.def("slice", [](const PyTensor& s, int64_t d, int64_t start, int64_t stop, int64_t step) {
    return wrap(s.t.slice((int)d, start, stop, step));
  });
  m.def("select", [](const PyTensor& s, int64_t d, int64_t i) { return wrap(s.t.select((int)d, i)); });
  m.def("diagonal", [](const PyTensor& s, int64_t off, int64_t d0, int64_t d1) {
    return wrap(s.t.diagonal_view(off, (int)d0, (int)d1));
  });
  // torch's view(dtype): the same bytes as another dtype, sharing the storage (any device). Another item size
  // scales the last dim (which must have stride 1), the other strides and the offset by the size ratio.
  m.def("_view_dtype", [](const PyTensor& s, py::handle dtype) {
    const Tensor& t = s.t;
    const DType dt = to_dtype(dtype, "view");
    const int64_t oi = (int64_t)itemsize(t.dtype()), ni = (int64_t)itemsize(dt);
    IntList shape = t.shape(), strides = t.strides();
    int64_t off = t.offset();
    if (oi != ni) {
      const char* from = dtype_name(t.dtype());
      const char* to = dtype_name(dt);
      const int nd = t.dim();
      DLCORE_CHECK(nd > 0, RuntimeError, "self.dim() cannot be 0 to view ", from, " as ", to,
                   " (different element sizes)");
      if (ni > oi)
        DLCORE_CHECK(shape[nd - 1] % (ni / oi) == 0, RuntimeError, "self.size(-1) must be divisible by ", ni / oi,
                     " to view ", from, " as ", to, " (different element sizes), but got ", shape[nd - 1]);
      DLCORE_CHECK(strides[nd - 1] == 1 || shape[nd - 1] == 1, RuntimeError, "self.stride(-1) must be 1 to view ",
                   from, " as ", to, " (different element sizes), but got ", strides[nd - 1]);
      if (ni > oi) {
        const int64_t r = ni / oi;
        DLCORE_CHECK(off % r == 0, RuntimeError, "self.storage_offset() must be divisible by ", r, " to view ", from,
                     " as ", to, " (different element sizes), but got ", off);
        for (int i = 0; i < nd - 1; ++i)
          DLCORE_CHECK(strides[i] % r == 0, RuntimeError, "self.stride(", i, ") must be divisible by ", r,
                       " to view ", from, " as ", to, " (different element sizes), but got ", strides[i]);
        for (int i = 0; i < nd - 1; ++i) strides[i] /= r;
        shape[nd - 1] /= r;
        strides[nd - 1] = 1;
        off /= r;
      } else {
        const int64_t r = oi / ni;
        for (int i = 0; i < nd - 1; ++i) strides[i] *= r;
        shape[nd - 1] *= r;
        strides[nd - 1] = 1;
        off *= r;
      }
    }
    return wrap(Tensor(t.storage(), shape, strides, off, dt));
  });
  m.def("as_strided", [](const PyTensor& s, py::handle size, py::handle stride, py::object offset) {
    return wrap(s.t.as_strided(to_intlist(size, "as_strided", "size"), to_intlist(stride, "as_strided", "stride"),
                               offset.is_none() ? s.t.offset() : offset.cast<int64_t>()));
  });
  m.def("contiguous", [](py::object self) -> py::object {
    const Tensor& t = as_tensor(self, "contiguous", "self");
    if (t.is_contiguous()) return self;
    return wrap(t.clone());
  });
  m.def("clone", [](const PyTensor& s) { return wrap(s.t.clone()); });
  m.def("to", [](py::object self, py::handle dtype, py::handle device, bool copy) -> py::object {
    const Tensor& t = as_tensor(self, "to", "self");
    DType dt = dtype.is_none() ? t.dtype() : to_dtype(dtype, "to");
    Device dev = device.is_none() ? t.device() : to_device(device, "to");
    if (dt == t.dtype() && dev == t.device() && !copy) return self;
    Tensor out = Tensor::empty(t.shape(), dt, dev);
    out.copy_from(t);
    return wrap(out);
  });
  m.def("copy_", [](PyTensor& dst, const PyTensor& src) {
    check_no_internal_overlap(dst.t, "copy_");
    Tensor s = src.t;
    if (s.shape() != dst.t.shape()) {
      IntList b = broadcast_shapes(dst.t.shape(), s.shape(), "copy_");
      DLCORE_CHECK(b == dst.t.shape(), ValueError, "copy_: source shape ", s.shape().str(),
                   " cannot be broadcast to destination shape ", dst.t.shape().str());
    }
    if (dst.t.storage() == s.storage() && dst.t.numel() > 0) s = s.clone();  // overlapping: copy through a buffer
    dst.t.copy_from(s);
    ++dst.t.storage()->version;
  });
  m.def("fill_", [](PyTensor& dst, py::handle value) {
    ScalarArg sv;
    if (to_scalar(value, sv)) {
      check_fill_range(sv, dst.t.dtype());
      if (sv.kind != ScalarArg::Float && dst.t.dtype() == DType::Int64 && dst.t.numel() > 0)
        dst.t.copy_from(scalar_tensor(sv, DType::Int64));
      else
        dst.t.fill(sv.d);
    } else {
      const Tensor& v = as_tensor(value, "fill_", "value");
      DLCORE_CHECK(v.dim() == 0, ValueError, "fill_: only supports 0-dimension value tensor but got tensor with ",
                   v.dim(), " dimensions");
      if (dst.t.numel() > 0) dst.t.copy_from(v.to(Device()).to(dst.t.dtype()).to(dst.t.device()));
    }
    ++dst.t.storage()->version;
  });
  m.def("item", [](const PyTensor& s) -> py::object {
    DLCORE_CHECK(s.t.numel() == 1, ValueError, "item: a Tensor with ", s.t.numel(),
                 " elements cannot be converted to a Python scalar");
    Tensor c = s.t.to(Device());
    return dispatch_dtype(c.dtype(), "item", [&](auto tag) -> py::object {
      using T = typename decltype(tag)::type;
      T v = *c.data<T>();
      if constexpr (std::is_same_v<T, bool>) return py::bool_(v);
      else if constexpr (std::is_integral_v<T>) return py::int_((int64_t)v);
      else return py::float_((double)(typename compute_type<T>::type)v);
    });
  });
}

BindingRegistrar reg("0tensor", &bind_tensor);

}  // namespace

}  // namespace dlcore
