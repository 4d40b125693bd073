// Ops the tensor core itself needs (copies and fills); kernels live in ops/elementwise (CPU) and the CUDA runtime.
#pragma once
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

// dst[...] = (dst.dtype) src[...], src already broadcast to dst's shape (same rank and sizes, strides may be 0).
// Registered per device type; a copy between cpu and cuda is done by the cuda kernel.
using CopyFn = void(const Tensor& dst, const Tensor& src);
inline Op<CopyFn> copy_op{"copy"};

// dst[...] = value (cast to dst.dtype).
using FillFn = void(const Tensor& dst, double value);
inline Op<FillFn> fill_op{"fill"};

}  // namespace dlcore
