// Argument checks shared by the layer families (activation, pool, softmax_loss, norm, dropout, embedding).
// Every message names the op and the expected vs given value, so bad input from Python gets a clear exception.
#pragma once
#include <string>

#include "core/errors.h"
#include "core/tensor.h"

namespace dlcore::layers {

inline void check_defined(const Tensor& t, const char* op, const char* arg) {
  DLCORE_CHECK(t.defined(), ValueError, op, "(): argument '", arg, "' is undefined");
}

// A float32/float64 tensor (the layer kernels' compute types).
inline void check_float(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  DLCORE_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, TypeError, op, "(): expected '", arg,
               "' of dtype float32 or float64, got ", dtype_name(t.dtype()));
}

inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
  DLCORE_CHECK(a.dtype() == b.dtype(), TypeError, op, "(): expected '", bn, "' of dtype ", dtype_name(a.dtype()),
               " (the dtype of '", an, "'), got ", dtype_name(b.dtype()));
}

inline void check_same_device(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
  DLCORE_CHECK(a.device() == b.device(), ValueError, op, "(): expected '", bn, "' on ", a.device().str(),
               " (the device of '", an, "'), got ", b.device().str());
}

inline void check_same_shape(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
  DLCORE_CHECK(a.shape() == b.shape(), ValueError, op, "(): expected '", bn, "' of shape ", a.shape().str(),
               " (the shape of '", an, "'), got ", b.shape().str());
}

// a and b: same shape, dtype and device.
inline void check_like(const Tensor& a, const Tensor& b, const char* op, const char* an, const char* bn) {
  check_defined(b, op, bn);
  check_same_device(a, b, op, an, bn);
  check_same_dtype(a, b, op, an, bn);
  check_same_shape(a, b, op, an, bn);
}

inline void check_index_dtype(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  DLCORE_CHECK(t.dtype() == DType::Int64, TypeError, op, "(): expected '", arg,
               "' of dtype int64 (class indices), got ", dtype_name(t.dtype()));
}

}  // namespace dlcore::layers
