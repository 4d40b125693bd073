// matmul with torch.matmul's semantics, linear (x @ w^T + b, bias fused into the GEMM's epilogue), addmm.
// Shapes: matmul of [..., M, K] and [..., K, N] broadcasts the batch dims; 1-D operands get a dimension prepended
// (left) or appended (right) that is removed from the result. Transposed operands go to the GEMM as strides.
#pragma once
#include "core/tensor.h"

namespace dlcore {

Tensor matmul(const Tensor& a, const Tensor& b);
// y = x @ w^T + b for x [..., in], w [out, in], b [out] (optional); relu fuses max(y, 0).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor* b, bool relu = false);
// beta * c + alpha * (a @ b) for 2-D a, b; c broadcast to the result.
Tensor addmm(const Tensor& c, const Tensor& a, const Tensor& b, double beta, double alpha);

}  // namespace dlcore
