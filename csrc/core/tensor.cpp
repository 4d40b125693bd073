#include "core/tensor.h"

#include <algorithm>
#include <cstring>

#include "core/allocator.h"
#include "core/core_ops.h"
#include "core/overlap.h"

namespace dlcore {

// ------------------------------------------------------------------------------------------------ helpers

std::string IntList::str() const {
  std::string s = "[";
  for (int i = 0; i < n_; ++i) {
    if (i) s += ", ";
    s += std::to_string(v_[i]);
  }
  return s + "]";
}

int64_t numel_of(const IntList& shape) {
  int64_t n = 1;
  bool zero = false;
  for (int i = 0; i < shape.size(); ++i) {
    DLCORE_CHECK(shape[i] >= 0, ValueError, "invalid shape ", shape.str(), ": sizes must be non-negative");
    if (shape[i] == 0) zero = true;
  }
  if (zero) return 0;
  for (int i = 0; i < shape.size(); ++i) {
    DLCORE_CHECK(!__builtin_mul_overflow(n, shape[i], &n), ValueError, "shape ", shape.str(),
                 " has too many elements (overflow)");
  }
  return n;
}

IntList contiguous_strides(const IntList& shape) {
  IntList st = IntList::filled(shape.size(), 1);
  int64_t acc = 1;
  for (int i = shape.size() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

int wrap_dim(int64_t d, int ndim, const char* op) {
  int64_t n = std::max(ndim, 1);  // a 0-d tensor accepts dim 0 and -1, as in PyTorch
  DLCORE_CHECK(d >= -n && d < n, IndexError, op, ": dimension out of range (expected to be in range of [", -n, ", ",
               n - 1, "], but got ", d, ")");
  return (int)(d < 0 ? d + n : d);
}

int Tensor::wrap_dim(int d, const char* op) const { return dlcore::wrap_dim(d, dim(), op); }

IntList broadcast_shapes(const IntList& a, const IntList& b, const char* op) {
  int n = std::max(a.size(), b.size());
  IntList out = IntList::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    int ia = a.size() - n + i, ib = b.size() - n + i;
    int64_t sa = ia >= 0 ? a[ia] : 1, sb = ib >= 0 ? b[ib] : 1;
    if (sa == sb || sb == 1) out[i] = sa;
    else if (sa == 1) out[i] = sb;
    else
      DLCORE_THROW(ValueError, op, ": shapes ", a.str(), " and ", b.str(), " are not broadcastable (size ", sa,
                   " vs ", sb, " at dimension ", i, ")");
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ storage

Storage::~Storage() {
  if (allocator_owned && data) device_allocator(device.type).deallocate(data, nbytes, device.index);
}

std::shared_ptr<Storage> Storage::allocate(std::size_t nbytes, Device device) {
  DeviceAllocator& a = device_allocator(device.type);
  auto s = std::make_shared<Storage>();
  s->data = a.allocate(nbytes, device.index);
  s->nbytes = nbytes;
  s->device = device;
  s->allocator_owned = true;
  return s;
}

std::shared_ptr<Storage> Storage::wrap(void* data, std::size_t nbytes, Device device, std::shared_ptr<void> owner) {
  auto s = std::make_shared<Storage>();
  s->data = data;
  s->nbytes = nbytes;
  s->device = device;
  s->owner = std::move(owner);
  return s;
}

// ------------------------------------------------------------------------------------------------ tensor

Tensor::Tensor(std::shared_ptr<Storage> storage, const IntList& shape, const IntList& strides, int64_t offset,
               DType dtype)
    : storage_(std::move(storage)), shape_(shape), strides_(strides), offset_(offset), dtype_(dtype) {
  recompute_numel();
}

Tensor Tensor::empty(const IntList& shape, DType dtype, Device device) {
  int64_t n = numel_of(shape);
  std::size_t bytes;
  DLCORE_CHECK(!__builtin_mul_overflow((std::size_t)n, dlcore::itemsize(dtype), &bytes), MemoryError,
               "empty: a tensor of shape ", shape.str(), " and dtype ", dtype_name(dtype), " is too large");
  return Tensor(Storage::allocate(bytes, device), shape, contiguous_strides(shape), 0, dtype);
}

Tensor Tensor::zeros(const IntList& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device.is_cpu()) std::memset(t.raw_data(), 0, t.nbytes());
  else t.fill(0.0);
  return t;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return numel_ == 0;
    expected *= shape_[i];
  }
  return true;
}

bool Tensor::is_non_overlapping_and_dense() const {
  if (is_contiguous()) return true;
  int n = dim();
  std::array<int, kMaxDims> perm;
  for (int i = 0; i < n; ++i) perm[i] = i;
  std::sort(perm.begin(), perm.begin() + n, [&](int a, int b) {
    if (shape_[a] < 2) return false;
    if (shape_[b] < 2) return true;
    return strides_[a] < strides_[b];
  });
  int64_t expected = 1;
  for (int k = 0; k < n; ++k) {
    int i = perm[k];
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

bool has_internal_overlap(const Tensor& t) {
  const IntList& shape_ = t.shape();
  const IntList& strides_ = t.strides();
  const int64_t numel_ = t.numel();
  if (numel_ < 2) return false;
  int n = t.dim();
  for (int i = 0; i < n; ++i)
    if (shape_[i] > 1 && strides_[i] == 0) return true;
  if (t.is_non_overlapping_and_dense()) return false;
  // A sufficient test for distinct elements: with the dims sorted by stride, each stride reaches past the span of
  // the smaller ones.
  std::array<int, kMaxDims> perm;
  int m = 0;
  for (int i = 0; i < n; ++i)
    if (shape_[i] > 1) perm[m++] = i;
  std::sort(perm.begin(), perm.begin() + m, [&](int a, int b) { return strides_[a] < strides_[b]; });
  int64_t span = 1;
  bool distinct = true;
  for (int k = 0; k < m && distinct; ++k) {
    int i = perm[k];
    if (strides_[i] < span) distinct = false;
    else span += strides_[i] * (shape_[i] - 1);
  }
  if (distinct) return false;
  if (numel_ > (int64_t(1) << 20)) return false;  // too costly to decide exactly: allowed, as in PyTorch
  std::vector<int64_t> offs;
  offs.reserve(numel_);
  std::array<int64_t, kMaxDims> idx{};
  for (int64_t e = 0; e < numel_; ++e) {
    int64_t o = 0;
    for (int i = 0; i < n; ++i) o += idx[i] * strides_[i];
    offs.push_back(o);
    for (int i = n - 1; i >= 0; --i) {
      if (++idx[i] < shape_[i]) break;
      idx[i] = 0;
    }
  }
  std::sort(offs.begin(), offs.end());
  return std::adjacent_find(offs.begin(), offs.end()) != offs.end();
}

void check_no_internal_overlap(const Tensor& t, const char* op) {
  DLCORE_CHECK(!has_internal_overlap(t), RuntimeError, op, ": unsupported operation: more than one element of the "
               "written-to tensor refers to a single memory location (shape ", t.shape().str(), ", strides ",
               t.strides().str(), "). Please clone() the tensor before performing the operation.");
}

std::string Tensor::describe() const {
  return std::string(dtype_name(dtype_)) + shape_.str() + " on " + device().str();
}

// The strides for viewing (shape, strides) as new_shape without a copy, or false (PyTorch's computeStride).
static bool compute_view_strides(const IntList& shape, const IntList& strides, const IntList& new_shape,
                                  IntList& out) {
  out = IntList::filled(new_shape.size(), 1);
  if (shape.empty()) {
    for (int i = 0; i < new_shape.size(); ++i) out[i] = 1;
    return true;
  }
  int64_t numel = 1;
  for (int i = 0; i < shape.size(); ++i) numel *= shape[i];
  if (numel == 0) {
    out = contiguous_strides(new_shape);
    return true;
  }
  int view_d = new_shape.size() - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int tensor_d = shape.size() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= shape[tensor_d];
    if (tensor_d == 0 || (shape[tensor_d - 1] != 1 && strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

// Resolves one -1 in a requested shape against numel; raises ValueError naming op on mismatch.
static IntList infer_shape(const IntList& req, int64_t numel, const IntList& from, const char* op) {
  IntList shape = req;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      DLCORE_CHECK(infer < 0, ValueError, op, ": only one dimension can be inferred (-1) in shape ", req.str());
      infer = i;
    } else {
      DLCORE_CHECK(shape[i] >= 0, ValueError, op, ": invalid size ", shape[i], " in shape ", req.str());
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    DLCORE_CHECK(known != 0 && numel % known == 0, ValueError, op, ": shape ", req.str(),
                 " is invalid for input of shape ", from.str(), " (", numel, " elements)");
    shape[infer] = numel / known;
  } else {
    DLCORE_CHECK(known == numel, ValueError, op, ": shape ", req.str(), " is invalid for input of shape ", from.str(),
                 " (", numel, " elements)");
  }
  return shape;
}

Tensor Tensor::view(const IntList& req) const {
  IntList shape = infer_shape(req, numel_, shape_, "view");
  IntList st;
  DLCORE_CHECK(compute_view_strides(shape_, strides_, shape, st), RuntimeError, "view: shape ", shape.str(),
               " is not compatible with the input's size and strides (", shape_.str(), ", strides ", strides_.str(),
               "); use reshape(), which copies when needed");
  return Tensor(storage_, shape, st, offset_, dtype_);
}

Tensor Tensor::reshape(const IntList& req) const {
  IntList shape = infer_shape(req, numel_, shape_, "reshape");
  IntList st;
  if (compute_view_strides(shape_, strides_, shape, st)) return Tensor(storage_, shape, st, offset_, dtype_);
  return contiguous().view(shape);
}

Tensor Tensor::as_strided(const IntList& shape, const IntList& strides, int64_t offset) const {
  DLCORE_CHECK(shape.size() == strides.size(), RuntimeError, "as_strided: sizes ", shape.str(), " and strides ",
               strides.str(), " differ in length");
  for (int i = 0; i < shape.size(); ++i)
    DLCORE_CHECK(shape[i] >= 0 && strides[i] >= 0, RuntimeError, "as_strided: negative size or stride (sizes ",
                 shape.str(), ", strides ", strides.str(), ")");
  DLCORE_CHECK(offset >= 0, RuntimeError, "as_strided: negative storage offset ", offset, " (sizes ", shape.str(),
               ", strides ", strides.str(), ")");
  // The highest element index reached, in 128-bit arithmetic: 64-bit products and sums can wrap around and make a
  // view far outside the storage look in bounds.
  bool empty_view = false;
  for (int i = 0; i < shape.size(); ++i)
    if (shape[i] == 0) empty_view = true;
  if (!empty_view) {
    __int128 hi = offset;
    for (int i = 0; i < shape.size(); ++i) hi += (__int128)(shape[i] - 1) * (__int128)strides[i];
    __int128 need = (hi + 1) * (__int128)itemsize();
    DLCORE_CHECK(need <= (__int128)storage_->nbytes, RuntimeError, "as_strided: sizes ", shape.str(), ", strides ",
                 strides.str(), " and storage offset ", offset, " reach beyond the storage of ",
                 storage_->nbytes / itemsize(), " elements (out of bounds for storage of size ",
                 storage_->nbytes, " bytes)");
  }
  return Tensor(storage_, shape, strides, offset, dtype_);
}

Tensor Tensor::transpose(int d0, int d1) const {
  d0 = wrap_dim(d0, "transpose");
  d1 = wrap_dim(d1, "transpose");
  if (dim() == 0) return *this;
  IntList sh = shape_, st = strides_;
  std::swap(sh[d0], sh[d1]);
  std::swap(st[d0], st[d1]);
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::permute(const IntList& dims) const {
  DLCORE_CHECK(dims.size() == dim(), ValueError, "permute: number of dims ", dims.size(),
               " does not match the tensor's rank ", dim(), " (dims ", dims.str(), ")");
  IntList sh = shape_, st = strides_;
  bool seen[kMaxDims] = {};
  for (int i = 0; i < dims.size(); ++i) {
    int d = wrap_dim((int)dims[i], "permute");
    DLCORE_CHECK(!seen[d], ValueError, "permute: dims ", dims.str(), " repeat dimension ", d);
    seen[d] = true;
    sh[i] = shape_[d];
    st[i] = strides_[d];
  }
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::expand(const IntList& req) const {
  DLCORE_CHECK(req.size() >= dim(), ValueError, "expand: the number of sizes provided (", req.size(),
               ") must be greater or equal to the number of dimensions in the tensor (", dim(), "): ",
               shape_.str(), " -> ", req.str());
  int lead = req.size() - dim();
  IntList sh = req, st = IntList::filled(req.size(), 0);
  for (int i = 0; i < req.size(); ++i) {
    int j = i - lead;
    if (j < 0) {
      DLCORE_CHECK(req[i] >= 0, ValueError, "expand: size -1 is not allowed in a new leading dimension (",
                   shape_.str(), " -> ", req.str(), ")");
      st[i] = 0;
      continue;
    }
    if (req[i] == -1 || req[i] == shape_[j]) {
      sh[i] = shape_[j];
      st[i] = strides_[j];
    } else {
      DLCORE_CHECK(shape_[j] == 1 && req[i] >= 0, ValueError, "expand: the expanded size of the tensor (", req[i],
                   ") must match the existing size (", shape_[j], ") at non-singleton dimension ", i, ": ",
                   shape_.str(), " -> ", req.str());
      st[i] = 0;
    }
  }
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::squeeze(int d) const {
  if (dim() == 0) return *this;
  d = wrap_dim(d, "squeeze");
  if (shape_[d] != 1) return *this;
  IntList sh = shape_, st = strides_;
  sh.erase(d);
  st.erase(d);
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::squeeze_all() const {
  IntList sh, st;
  for (int i = 0; i < dim(); ++i)
    if (shape_[i] != 1) {
      sh.push_back(shape_[i]);
      st.push_back(strides_[i]);
    }
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::unsqueeze(int d) const {
  d = dlcore::wrap_dim(d, dim() + 1, "unsqueeze");
  IntList sh = shape_, st = strides_;
  int64_t s = d < dim() ? strides_[d] * shape_[d] : 1;
  sh.insert(d, 1);
  st.insert(d, s);
  return Tensor(storage_, sh, st, offset_, dtype_);
}

Tensor Tensor::slice(int d, int64_t start, int64_t stop, int64_t step) const {
  d = wrap_dim(d, "slice");
  DLCORE_CHECK(step > 0, ValueError, "slice: step must be positive, got ", step);
  int64_t n = shape_[d];
  start = std::clamp<int64_t>(start, 0, n);
  stop = std::clamp<int64_t>(stop, start, n);
  IntList sh = shape_, st = strides_;
  sh[d] = (stop - start + step - 1) / step;
  st[d] = strides_[d] * step;
  int64_t off = offset_ + (sh[d] > 0 ? start * strides_[d] : 0);
  return Tensor(storage_, sh, st, off, dtype_);
}

Tensor Tensor::select(int d, int64_t index) const {
  DLCORE_CHECK(dim() > 0, IndexError, "select: cannot index a 0-d tensor");
  d = wrap_dim(d, "select");
  int64_t n = shape_[d];
  DLCORE_CHECK(index >= -n && index < n, IndexError, "index ", index, " is out of bounds for dimension ", d,
               " with size ", n);
  if (index < 0) index += n;
  IntList sh = shape_, st = strides_;
  sh.erase(d);
  st.erase(d);
  return Tensor(storage_, sh, st, offset_ + index * strides_[d], dtype_);
}

Tensor Tensor::diagonal_view(int64_t off, int d0, int d1) const {
  d0 = wrap_dim(d0, "diagonal");
  d1 = wrap_dim(d1, "diagonal");
  DLCORE_CHECK(d0 != d1, ValueError, "diagonal: dimensions must differ, got ", d0, " and ", d1);
  int64_t start = offset_;
  int64_t len;
  if (off >= 0) {
    len = std::max<int64_t>(std::min(shape_[d0], shape_[d1] - off), 0);
    if (len > 0) start += off * strides_[d1];
  } else {
    len = std::max<int64_t>(std::min(shape_[d0] + off, shape_[d1]), 0);
    if (len > 0) start -= off * strides_[d0];
  }
  IntList sh, st;
  for (int i = 0; i < dim(); ++i)
    if (i != d0 && i != d1) {
      sh.push_back(shape_[i]);
      st.push_back(strides_[i]);
    }
  sh.push_back(len);
  st.push_back(strides_[d0] + strides_[d1]);
  return Tensor(storage_, sh, st, start, dtype_);
}

// ------------------------------------------------------------------------------------------------ copies

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_, device());
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(DType dt) const {
  if (dt == dtype_) return *this;
  Tensor out = empty(shape_, dt, device());
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to(Device dev) const {
  if (dev == device()) return *this;
  Tensor out = empty(shape_, dtype_, dev);
  out.copy_from(*this);
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  Tensor s = src;
  if (s.shape() != shape_) s = s.expand(shape_);
  DeviceType kd = (device().is_cuda() || s.device().is_cuda()) ? DeviceType::CUDA : DeviceType::CPU;
  if (numel_ == 0) return;
  copy_op.get(kd)(*this, s);
}

void Tensor::fill(double value) {
  if (numel_ == 0) return;
  fill_op.get(device().type)(*this, value);
}

}  // namespace dlcore
