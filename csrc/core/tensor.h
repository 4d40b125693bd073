// The tensor: a storage (reference-counted buffer on one device) seen through shape, strides (in elements) and an
// offset (in elements). Views share the storage; nothing here copies data unless its name says so.
//
// Layout conventions: row-major ("C") contiguous tensors have strides[i] = prod(shape[i+1:]); strides may be 0
// (broadcast/expand) and, for views made by slicing with steps, greater than the contiguous stride. Negative
// strides are not produced (flip copies).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/common.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/errors.h"

namespace dlcore {

// A small fixed-capacity vector of int64 for shapes and strides (no heap allocation).
class IntList {
 public:
  IntList() = default;
  IntList(std::initializer_list<int64_t> v) { assign(v.begin(), v.size()); }
  IntList(const int64_t* p, int n) { assign(p, n); }
  explicit IntList(const std::vector<int64_t>& v) { assign(v.data(), (int)v.size()); }
  static IntList filled(int n, int64_t value) {
    IntList r;
    r.resize(n, value);
    return r;
  }
  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](int i) { return v_[i]; }
  int64_t operator[](int i) const { return v_[i]; }
  const int64_t* data() const { return v_.data(); }
  int64_t* data() { return v_.data(); }
  const int64_t* begin() const { return v_.data(); }
  const int64_t* end() const { return v_.data() + n_; }
  int64_t back() const { return v_[n_ - 1]; }
  void push_back(int64_t x) {
    DLCORE_CHECK(n_ < kMaxDims, ValueError, "dlcore supports tensors of at most ", kMaxDims, " dimensions");
    v_[n_++] = x;
  }
  void insert(int pos, int64_t x) {
    DLCORE_CHECK(n_ < kMaxDims, ValueError, "dlcore supports tensors of at most ", kMaxDims, " dimensions");
    for (int i = n_; i > pos; --i) v_[i] = v_[i - 1];
    v_[pos] = x;
    ++n_;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) v_[i] = v_[i + 1];
    --n_;
  }
  void resize(int n, int64_t value = 0) {
    DLCORE_CHECK(n >= 0 && n <= kMaxDims, ValueError, "dlcore supports tensors of at most ", kMaxDims, " dimensions");
    for (int i = n_; i < n; ++i) v_[i] = value;
    n_ = n;
  }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(begin(), end()); }
  bool operator==(const IntList& o) const {
    if (n_ != o.n_) return false;
    for (int i = 0; i < n_; ++i)
      if (v_[i] != o.v_[i]) return false;
    return true;
  }
  bool operator!=(const IntList& o) const { return !(*this == o); }
  std::string str() const;  // "[2, 3, 4]"

 private:
  void assign(const int64_t* p, std::size_t n) {
    DLCORE_CHECK(n <= (std::size_t)kMaxDims, ValueError, "dlcore supports tensors of at most ", kMaxDims,
                 " dimensions, got ", n);
    n_ = (int)n;
    for (int i = 0; i < n_; ++i) v_[i] = p[i];
  }
  std::array<int64_t, kMaxDims> v_{};
  int n_ = 0;
};

int64_t numel_of(const IntList& shape);          // product; raises ValueError on negative sizes or overflow
IntList contiguous_strides(const IntList& shape);

// A buffer on a device. Owned buffers come from the device's allocator; foreign buffers (NumPy arrays, DLPack
// capsules) keep their owner alive through `owner` and are released by its deleter.
struct Storage {
  void* data = nullptr;
  std::size_t nbytes = 0;
  Device device;
  std::shared_ptr<void> owner;  // non-null for foreign memory: released when the storage dies
  bool allocator_owned = false;
  int64_t version = 0;  // bumped by every in-place write; autograd checks that saved tensors were not modified
  ~Storage();
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // A new buffer of nbytes on device (uninitialised).
  static std::shared_ptr<Storage> allocate(std::size_t nbytes, Device device);
  // Wraps memory owned by someone else.
  static std::shared_ptr<Storage> wrap(void* data, std::size_t nbytes, Device device, std::shared_ptr<void> owner);
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() == false)

  // A new, uninitialised, contiguous tensor.
  static Tensor empty(const IntList& shape, DType dtype, Device device = Device());
  static Tensor zeros(const IntList& shape, DType dtype, Device device = Device());
  // A view onto an existing storage.
  Tensor(std::shared_ptr<Storage> storage, const IntList& shape, const IntList& strides, int64_t offset, DType dtype);

  bool defined() const { return (bool)storage_; }
  const IntList& shape() const { return shape_; }
  const IntList& strides() const { return strides_; }
  int64_t size(int d) const { return shape_[d]; }
  int64_t stride(int d) const { return strides_[d]; }
  int dim() const { return shape_.size(); }
  int64_t numel() const { return numel_; }
  int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_->device; }
  std::size_t itemsize() const { return dlcore::itemsize(dtype_); }
  std::size_t nbytes() const { return numel_ * itemsize(); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  bool is_contiguous() const;
  // True when the elements occupy one dense block in some order (a permutation of a contiguous tensor).
  bool is_non_overlapping_and_dense() const;

  void* raw_data() const { return static_cast<char*>(storage_->data) + offset_ * (int64_t)itemsize(); }
  template <class T>
  T* data() const {
    return reinterpret_cast<T*>(raw_data());
  }

  // ---- views (share storage) ----
  Tensor view(const IntList& shape) const;     // requires compatible strides; raises RuntimeError otherwise
  Tensor reshape(const IntList& shape) const;  // a view when possible, a copy otherwise
  Tensor as_strided(const IntList& shape, const IntList& strides, int64_t offset) const;
  Tensor transpose(int d0, int d1) const;
  Tensor permute(const IntList& dims) const;
  Tensor expand(const IntList& shape) const;  // -1 keeps a size; new leading dims allowed
  Tensor squeeze(int d) const;
  Tensor squeeze_all() const;
  Tensor unsqueeze(int d) const;
  Tensor slice(int d, int64_t start, int64_t stop, int64_t step) const;  // normalised, in-range values
  Tensor select(int d, int64_t index) const;
  Tensor diagonal_view(int64_t offset, int d0, int d1) const;

  // ---- copies ----
  Tensor contiguous() const;               // this when already contiguous
  Tensor clone() const;                    // always a contiguous copy
  Tensor to(DType dtype) const;            // this when the dtype matches
  Tensor to(Device device) const;          // this when the device matches
  void copy_from(const Tensor& src);       // broadcasting, casting copy into this (any layout)
  void fill(double value);

  // The size of d after wrapping negative dims; raises IndexError naming op.
  int wrap_dim(int d, const char* op) const;

  std::string describe() const;  // "float32[2, 3] on cpu"

 private:
  void recompute_numel() { numel_ = numel_of(shape_); }
  std::shared_ptr<Storage> storage_;
  IntList shape_, strides_;
  int64_t offset_ = 0;
  int64_t numel_ = 0;
  DType dtype_ = DType::Float32;
};

// Wraps a dimension index d of a tensor of rank `ndim` into [0, ndim); raises IndexError naming op.
int wrap_dim(int64_t d, int ndim, const char* op);

// NumPy/PyTorch broadcasting of two shapes; raises ValueError naming op when they do not broadcast.
IntList broadcast_shapes(const IntList& a, const IntList& b, const char* op);

}  // namespace dlcore
