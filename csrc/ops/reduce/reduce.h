// Reductions over dimensions: sum, prod, max, min, argmax, argmin, any, all (kernels); mean, var, std, logsumexp
// and norms are composed from them in the frontend.
//
// Kernel contract: `in` is contiguous and viewed as [O, R, I]; `out` is contiguous [O, I] (the reduced run of
// dimensions R removed). Sum/Prod run on float32, float64 and int64 (the frontend casts narrower integers to int64,
// as torch's sum does); Max/Min/ArgMax/ArgMin on every compute dtype; Any/All on bool. Max/min propagate NaN;
// argmax/argmin return the first index of the extreme value (NaN counts as the maximum and the minimum, as in
// torch). Float sums accumulate in blocks with independent partial sums, combined in float64.
#pragma once
#include <cstdint>

#include "core/registry.h"
#include "core/tensor.h"
#include "ops/elementwise/elementwise.h"

namespace dlcore {

enum class ReduceOp : int8_t { Sum, Prod, Max, Min, ArgMax, ArgMin, Any, All, Count };
constexpr int kNumReduceOps = (int)ReduceOp::Count;
const char* reduce_op_name(ReduceOp op);

using ReduceFn = void(ReduceOp op, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I);
inline Op<ReduceFn> reduce_op{"reduce"};

// ---- frontend ----
// dims: the dimensions to reduce (empty = all). Raises IndexError for a bad dim, ValueError for a repeated one.
Tensor reduce(ReduceOp op, const Tensor& x, const IntList& dims, bool keepdim);
// argmax/argmin over one dimension (dim < 0 after wrapping: over the flattened tensor).
Tensor arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, bool flatten, bool keepdim);
// The sum of squares of each row of a contiguous float32 cpu tensor [rows, n] -> float32 [rows], accumulated in
// double (the fused 2-norm; other tensors take sum(x * x)).
Tensor sumsq_rows(const Tensor& x);
Tensor mean(const Tensor& x, const IntList& dims, bool keepdim);
// Sum of squared deviations / (N - correction).
Tensor var(const Tensor& x, const IntList& dims, double correction, bool keepdim);
Tensor logsumexp(const Tensor& x, const IntList& dims, bool keepdim);

// The dims list normalised (sorted, unique, wrapped); empty input list = all dims.
IntList normalize_dims(const IntList& dims, int ndim, const char* op);
// The output shape of reducing dims (keepdim keeps them as 1).
IntList reduced_shape(const IntList& shape, const IntList& dims, bool keepdim);

}  // namespace dlcore
