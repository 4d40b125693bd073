// Frontend of the reduce family: dims normalisation, output dtypes, splitting a reduction into [O, R, I] kernel
// calls, and the composed reductions (mean, var, logsumexp).
#include <algorithm>
#include <limits>

#include "ops/reduce/reduce.h"

namespace dlcore {

const char* reduce_op_name(ReduceOp op) {
  static const char* names[] = {"sum", "prod", "max", "min", "argmax", "argmin", "any", "all"};
  return names[(int)op];
}

IntList normalize_dims(const IntList& dims, int ndim, const char* op) {
  IntList out;
  if (dims.empty()) {
    for (int i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  bool seen[kMaxDims + 1] = {};
  for (int k = 0; k < dims.size(); ++k) {
    int d = wrap_dim(dims[k], ndim, op);
    DLCORE_CHECK(!seen[d], ValueError, op, ": dim ", d, " appears multiple times in the list of dims ", dims.str());
    seen[d] = true;
  }
  for (int i = 0; i < std::max(ndim, 1); ++i)
    if (seen[i] && i < ndim) out.push_back(i);
  return out;
}

IntList reduced_shape(const IntList& shape, const IntList& dims, bool keepdim) {
  IntList out;
  int k = 0;
  for (int i = 0; i < shape.size(); ++i) {
    bool red = k < dims.size() && dims[k] == i;
    if (red) {
      ++k;
      if (keepdim) out.push_back(1);
    } else {
      out.push_back(shape[i]);
    }
  }
  return out;
}

static DType reduce_out_dtype(ReduceOp op, DType in) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Prod: return (is_floating(in) ? in : DType::Int64);
    case ReduceOp::ArgMax:
    case ReduceOp::ArgMin: return DType::Int64;
    case ReduceOp::Any:
    case ReduceOp::All: return DType::Bool;
    default: return in;
  }
}

// The dtype the kernel runs on.
static DType reduce_kernel_dtype(ReduceOp op, DType in) {
  if (op == ReduceOp::Any || op == ReduceOp::All) return DType::Bool;
  if (in == DType::Float16 || in == DType::BFloat16) return DType::Float32;
  if (op == ReduceOp::Sum || op == ReduceOp::Prod) return is_floating(in) ? in : DType::Int64;
  return in;
}

static double reduce_identity(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: case ReduceOp::Any: return 0.0;
    case ReduceOp::Prod: case ReduceOp::All: return 1.0;
    default: return 0.0;
  }
}

// Reduces the sorted dims of contiguous x (kernel dtype) into a contiguous tensor of the reduced shape without
// kept dims: one kernel call per run of adjacent reduced dims, the innermost run first.
static Tensor reduce_contiguous(ReduceOp op, Tensor x, IntList dims) {
  Device dev = x.device();
  while (!dims.empty()) {
    // last run of consecutive dims
    int hi = dims.size() - 1, lo = hi;
    while (lo > 0 && dims[lo - 1] == dims[lo] - 1) --lo;
    int d0 = (int)dims[lo], d1 = (int)dims[hi];
    int64_t O = 1, R = 1, I = 1;
    for (int i = 0; i < d0; ++i) O *= x.size(i);
    for (int i = d0; i <= d1; ++i) R *= x.size(i);
    for (int i = d1 + 1; i < x.dim(); ++i) I *= x.size(i);
    IntList shape;
    for (int i = 0; i < x.dim(); ++i)
      if (i < d0 || i > d1) shape.push_back(x.size(i));
    DType odt = (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) ? DType::Int64 : x.dtype();
    Tensor out = Tensor::empty(shape, odt, dev);
    if (out.numel() > 0) {
      if (R == 0) {
        DLCORE_CHECK(op == ReduceOp::Sum || op == ReduceOp::Prod || op == ReduceOp::Any || op == ReduceOp::All,
                     IndexError, reduce_op_name(op), ": cannot reduce over a zero-size dimension (input shape ",
                     x.shape().str(), ") because the operation has no identity");
        out.fill(reduce_identity(op));
      } else {
        reduce_op.get(dev.type)(op, out, x, O, R, I);
      }
    }
    x = out;
    IntList rest;
    for (int i = 0; i < lo; ++i) rest.push_back(dims[i]);
    dims = rest;
  }
  return x;
}

Tensor reduce(ReduceOp op, const Tensor& x, const IntList& dims_in, bool keepdim) {
  const char* name = reduce_op_name(op);
  IntList dims = normalize_dims(dims_in, x.dim(), name);
  DType kdt = reduce_kernel_dtype(op, x.dtype());
  DType odt = reduce_out_dtype(op, x.dtype());
  IntList out_shape = reduced_shape(x.shape(), dims, keepdim);
  Tensor xc = x.to(kdt).contiguous();
  Tensor r = x.dim() == 0 ? xc.clone() : reduce_contiguous(op, xc, dims);
  if (r.dtype() != odt) r = r.to(odt);
  return r.view(out_shape);
}

Tensor arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, bool flatten, bool keepdim) {
  const char* name = reduce_op_name(op);
  DType kdt = reduce_kernel_dtype(op, x.dtype());
  Tensor xc = x.to(kdt).contiguous();
  if (flatten) {
    DLCORE_CHECK(x.numel() > 0, IndexError, name, ": expected a non-empty tensor (or a reduction dim) for an input "
                 "of shape ", x.shape().str());
    Tensor flat = xc.view(IntList{xc.numel()});
    Tensor r = reduce_contiguous(op, flat, IntList{0});
    if (keepdim) return r.view(IntList::filled(x.dim(), 1));
    return r;
  }
  int d = wrap_dim(dim, x.dim(), name);
  if (x.dim() == 0) return Tensor::zeros(IntList{}, DType::Int64, x.device());
  DLCORE_CHECK(x.size(d) > 0, IndexError, name, ": cannot reduce over the zero-size dimension ", d, " of shape ",
               x.shape().str(), " (the reduction has no identity)");
  // An empty result (a zero-size other dim) needs no kernel call: reduce_contiguous skips it.
  Tensor r = reduce_contiguous(op, xc, IntList{d});
  return r.view(reduced_shape(x.shape(), IntList{d}, keepdim));
}

static int64_t reduced_count(const Tensor& x, const IntList& dims) {
  int64_t n = 1;
  for (int i = 0; i < dims.size(); ++i) n *= x.size((int)dims[i]);
  return n;
}

Tensor mean(const Tensor& x, const IntList& dims_in, bool keepdim) {
  DLCORE_CHECK(is_floating(x.dtype()), TypeError, "mean: expected a floating-point input, got ",
               dtype_name(x.dtype()), " (cast with .float() first)");
  if (x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16)  // in float32, rounded once (torch: its sum in
    return mean(x.to(DType::Float32), dims_in, keepdim).to(x.dtype());  // 16 bits overflowed, a 16-bit 1/n rounded)
  IntList dims = normalize_dims(dims_in, x.dim(), "mean");
  Tensor s = reduce(ReduceOp::Sum, x, dims, keepdim);
  int64_t n = reduced_count(x, dims);
  Tensor out = Tensor::empty(s.shape(), s.dtype(), s.device());
  ScalarArg c{ScalarArg::Float, n == 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 / (double)n, 0};
  if (n == 0) out.fill(std::numeric_limits<double>::quiet_NaN());
  else binary_into(BinaryOp::Mul, out, s, scalar_tensor(c, s.dtype()), s.dtype());
  return out;
}

Tensor var(const Tensor& x, const IntList& dims_in, double correction, bool keepdim) {
  DLCORE_CHECK(is_floating(x.dtype()), TypeError, "var: expected a floating-point input, got ",
               dtype_name(x.dtype()));
  if (x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16)  // in float32 (deviations, squares, sum)
    return var(x.to(DType::Float32), dims_in, correction, keepdim).to(x.dtype());
  IntList dims = normalize_dims(dims_in, x.dim(), "var");
  Tensor m = mean(x, dims, true);
  Tensor d = binary(BinaryOp::Sub, x, m, x.dtype());
  Tensor sq = unary(UnaryOp::Square, d);
  Tensor s = reduce(ReduceOp::Sum, sq, dims, keepdim);
  // torch divides by max(N - correction, 0): with no degrees of freedom the sum times inf is inf (NaN where the
  // deviations are all 0, e.g. one element)
  double n = (double)reduced_count(x, dims) - correction;
  ScalarArg c{ScalarArg::Float, n > 0 ? 1.0 / n : std::numeric_limits<double>::infinity(), 0};
  return binary(BinaryOp::Mul, s, scalar_tensor(c, s.dtype()), s.dtype());
}

Tensor logsumexp(const Tensor& x, const IntList& dims_in, bool keepdim) {
  IntList dims = normalize_dims(dims_in, x.dim(), "logsumexp");
  Tensor xf = is_floating(x.dtype()) ? x : x.to(DType::Float32);
  if (reduced_count(x, dims) == 0 || x.numel() == 0) {  // log(sum of no terms) = -inf, as in PyTorch
    Tensor r = Tensor::empty(reduced_shape(x.shape(), dims, keepdim), xf.dtype(), x.device());
    r.fill(-std::numeric_limits<double>::infinity());
    return r;
  }
  Tensor m = reduce(ReduceOp::Max, xf, dims, true);
  // Rows that are all -inf keep max = 0 so that exp(x - m) is 0 rather than NaN.
  Tensor finite = unary(UnaryOp::IsFinite, m);
  Tensor zero = Tensor::zeros(IntList{}, m.dtype(), Device());
  Tensor ms = where(finite, m, zero);
  Tensor e = unary(UnaryOp::Exp, binary(BinaryOp::Sub, xf, ms, xf.dtype()));
  Tensor s = reduce(ReduceOp::Sum, e, dims, true);
  Tensor r = binary(BinaryOp::Add, unary(UnaryOp::Log, s), ms, xf.dtype());
  if (!keepdim) r = r.view(reduced_shape(x.shape(), dims, false));
  return r;
}

}  // namespace dlcore
