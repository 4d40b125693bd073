// Elementwise ops: binary arithmetic/comparison/logical ops with broadcasting, unary math, where, casts.
//
// Shapes: out has the broadcast shape of the inputs; the kernels receive inputs already expanded to out's shape
// (stride 0 on broadcast dims) and already cast to the compute dtype, so a kernel only loops. Any strides.
// A 0-d tensor on the CPU is a scalar operand: kernels of every device accept it (the CUDA kernels read its value
// on the host and pass it by value).
//
// Formulas: the per-element functions below (DLCORE_HOSTDEV) are the single definition used by the CPU loops and
// the CUDA kernels. Integer division by zero does not trap: the result is 0 and the op raises afterwards
// (see int_div_by_zero_flag()).
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/common.h"
#include "core/dtype.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

enum class BinaryOp : int8_t {
  Add, Sub, Mul, Div, Maximum, Minimum, Pow, FloorDiv, Remainder,  // arithmetic: out dtype = compute dtype
  Eq, Ne, Lt, Le, Gt, Ge,                                            // comparisons: out bool
  LogicalAnd, LogicalOr, LogicalXor,                                 // inputs cast to bool, out bool
  BitwiseAnd, BitwiseOr, BitwiseXor,                                 // integer and bool types
  Count
};
constexpr int kNumBinaryOps = (int)BinaryOp::Count;
const char* binary_op_name(BinaryOp op);
constexpr bool binary_is_comparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
constexpr bool binary_is_logical(BinaryOp op) { return op >= BinaryOp::LogicalAnd && op <= BinaryOp::LogicalXor; }
constexpr bool binary_is_bitwise(BinaryOp op) { return op >= BinaryOp::BitwiseAnd && op <= BinaryOp::BitwiseXor; }

enum class UnaryOp : int8_t {
  Neg, Abs, Sign, Square, Clamp, PowScalar,                 // any numeric dtype
  Floor, Ceil, Round, Trunc,                                // identity on integers
  Exp, Log, Sqrt, Rsqrt, Reciprocal, Log1p, Expm1, Log2, Log10, Exp2,
  Sin, Cos, Tanh, Sigmoid, Erf,                             // floating only
  IsNan, IsInf, IsFinite,                                   // out bool
  LogicalNot,                                               // input cast to bool, out bool
  BitwiseNot,                                               // integer and bool
  Count
};
constexpr int kNumUnaryOps = (int)UnaryOp::Count;
const char* unary_op_name(UnaryOp op);
constexpr bool unary_is_float_only(UnaryOp op) { return op >= UnaryOp::Exp && op <= UnaryOp::Erf; }
constexpr bool unary_out_is_bool(UnaryOp op) { return op >= UnaryOp::IsNan && op <= UnaryOp::LogicalNot; }

// Parameters of the parameterised unary ops: Clamp (lo, hi; has_lo/has_hi), PowScalar (exponent in a).
struct UnaryParams {
  double a = 0, b = 0;
  bool has_a = false, has_b = false;
};

// ------------------------------------------------------------------------------------------------ formulas

template <class T> DLCORE_HOSTDEV bool is_nan_v(T x) {
  if constexpr (std::is_floating_point_v<T>) return x != x;
  else return false;
}

template <class T>
DLCORE_HOSTDEV T max_propagate_nan(T a, T b) {
  if (is_nan_v(a)) return a;
  if (is_nan_v(b)) return b;
  return a > b ? a : b;
}
template <class T>
DLCORE_HOSTDEV T min_propagate_nan(T a, T b) {
  if (is_nan_v(a)) return a;
  if (is_nan_v(b)) return b;
  return a < b ? a : b;
}

// Python's floor division and modulo (result takes the divisor's sign), as torch.floor_divide/remainder.
template <class T>
DLCORE_HOSTDEV T floor_div_float(T a, T b) {
  if (b == T(0)) return a / b;
  T mod = std::fmod(a, b);
  T div = (a - mod) / b;
  if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) div -= T(1);
  T fl;
  if (div != T(0)) {
    fl = std::floor(div);
    if (div - fl > T(0.5)) fl += T(1);
  } else {
    fl = std::copysign(T(0), a / b);
  }
  return fl;
}
template <class T>
DLCORE_HOSTDEV T remainder_float(T a, T b) {
  T r = std::fmod(a, b);
  if (r != T(0) && ((r < T(0)) != (b < T(0)))) r += b;
  return r;
}
// Integers: b == 0 gives 0 (the caller reports the error); b == -1 avoids the INT_MIN / -1 trap.
template <class T>
DLCORE_HOSTDEV T floor_div_int(T a, T b) {
  if (b == T(0)) return T(0);
  if constexpr (std::is_signed_v<T>) {
    if (b == T(-1)) return (T)(T(0) - (std::make_unsigned_t<T>)a);
    T q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
  } else {
    return a / b;
  }
}
template <class T>
DLCORE_HOSTDEV T remainder_int(T a, T b) {
  if (b == T(0)) return T(0);
  if constexpr (std::is_signed_v<T>) {
    if (b == T(-1)) return T(0);
    T r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
  } else {
    return a % b;
  }
}
template <class T>
DLCORE_HOSTDEV T pow_int(T base, T exp) {  // exp >= 0 (negative exponents are rejected before the kernel)
  T result = 1;
  while (exp > 0) {
    if (exp & 1) result = (T)(result * base);
    base = (T)(base * base);
    exp >>= 1;
  }
  return result;
}

template <class T>
DLCORE_HOSTDEV T sigmoid_scalar(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <class T>
DLCORE_HOSTDEV T sign_of(T x) {
  if constexpr (std::is_same_v<T, bool>) return x;
  else if constexpr (std::is_unsigned_v<T>) return (T)(x > 0);
  // (selects only, so that the CPU loops vectorise: NaN fails every comparison and comes out as itself; +-0 -> +0)
  else if constexpr (std::is_floating_point_v<T>) return x > T(0) ? T(1) : x < T(0) ? T(-1) : x == x ? T(0) : x;
  else return (T)((x > 0) - (x < 0));
}

// x ** e for a floating-point scalar exponent: torch's special exponents by multiplications, a reciprocal or sqrt
// (as torch computes them: x * x and 1 / x correctly rounded, x * x * x and 1 / (x * x) within about an ulp like
// pow itself; zeros, infinities and NaN come out as pow gives them), std::pow otherwise. x ** 0.5 is sqrt(x), as in
// torch and NumPy: -0 and -inf give -0 and NaN (C's pow gives +0 and +inf).
template <class T>
DLCORE_HOSTDEV T pow_scalar(T x, T e) {
  if (e == T(2)) return x * x;
  if (e == T(3)) return x * x * x;
  if (e == T(-2)) return T(1) / (x * x);
  if (e == T(1)) return x;
  if (e == T(0)) return T(1);
  if (e == T(-1)) return T(1) / x;
  if (e == T(0.5)) return std::sqrt(x);
  return (T)std::pow(x, e);
}

// The per-element binary function, for compute type T (out type bool for comparisons/logical ops).
template <BinaryOp OP, class T>
DLCORE_HOSTDEV auto binary_apply(T a, T b) {
  if constexpr (OP == BinaryOp::Add) return (T)(a + b);
  else if constexpr (OP == BinaryOp::Sub) return (T)(a - b);
  else if constexpr (OP == BinaryOp::Mul) return (T)(a * b);
  else if constexpr (OP == BinaryOp::Div) return (T)(a / b);
  else if constexpr (OP == BinaryOp::Maximum) return max_propagate_nan(a, b);
  else if constexpr (OP == BinaryOp::Minimum) return min_propagate_nan(a, b);
  else if constexpr (OP == BinaryOp::Pow) {
    if constexpr (std::is_floating_point_v<T>) return (T)std::pow(a, b);
    else return pow_int(a, b);
  } else if constexpr (OP == BinaryOp::FloorDiv) {
    if constexpr (std::is_floating_point_v<T>) return floor_div_float(a, b);
    else return floor_div_int(a, b);
  } else if constexpr (OP == BinaryOp::Remainder) {
    if constexpr (std::is_floating_point_v<T>) return remainder_float(a, b);
    else return remainder_int(a, b);
  } else if constexpr (OP == BinaryOp::Eq) return a == b;
  else if constexpr (OP == BinaryOp::Ne) return a != b;
  else if constexpr (OP == BinaryOp::Lt) return a < b;
  else if constexpr (OP == BinaryOp::Le) return a <= b;
  else if constexpr (OP == BinaryOp::Gt) return a > b;
  else if constexpr (OP == BinaryOp::Ge) return a >= b;
  else if constexpr (OP == BinaryOp::LogicalAnd) return (bool)a && (bool)b;
  else if constexpr (OP == BinaryOp::LogicalOr) return (bool)a || (bool)b;
  else if constexpr (OP == BinaryOp::LogicalXor) return (bool)a != (bool)b;
  else if constexpr (OP == BinaryOp::BitwiseAnd) return (T)(a & b);
  else if constexpr (OP == BinaryOp::BitwiseOr) return (T)(a | b);
  else return (T)(a ^ b);
}

// The per-element unary function for compute type T.
template <UnaryOp OP, class T>
DLCORE_HOSTDEV auto unary_apply(T x, const UnaryParams& p) {
  if constexpr (OP == UnaryOp::Neg) return (T)(T(0) - x);
  else if constexpr (OP == UnaryOp::Abs) {
    if constexpr (std::is_unsigned_v<T>) return x;
    else return (T)(x < T(0) ? T(0) - x : x);
  } else if constexpr (OP == UnaryOp::Sign) return sign_of(x);
  else if constexpr (OP == UnaryOp::Square) return (T)(x * x);
  else if constexpr (OP == UnaryOp::Clamp) {
    T r = x;
    if (is_nan_v(r)) return r;
    if (p.has_a && r < (T)p.a) r = (T)p.a;
    if (p.has_b && r > (T)p.b) r = (T)p.b;
    return r;
  } else if constexpr (OP == UnaryOp::PowScalar) {
    if constexpr (std::is_floating_point_v<T>) return pow_scalar(x, (T)p.a);
    else return pow_int(x, (T)p.a);
  } else if constexpr (OP == UnaryOp::Floor) {
    if constexpr (std::is_floating_point_v<T>) return std::floor(x);
    else return x;
  } else if constexpr (OP == UnaryOp::Ceil) {
    if constexpr (std::is_floating_point_v<T>) return std::ceil(x);
    else return x;
  } else if constexpr (OP == UnaryOp::Round) {
    if constexpr (std::is_floating_point_v<T>) return std::nearbyint(x);  // half to even, like torch.round
    else return x;
  } else if constexpr (OP == UnaryOp::Trunc) {
    if constexpr (std::is_floating_point_v<T>) return std::trunc(x);
    else return x;
  } else if constexpr (OP == UnaryOp::Exp) return std::exp(x);
  else if constexpr (OP == UnaryOp::Log) return std::log(x);
  else if constexpr (OP == UnaryOp::Sqrt) return std::sqrt(x);
  else if constexpr (OP == UnaryOp::Rsqrt) return T(1) / std::sqrt(x);
  else if constexpr (OP == UnaryOp::Reciprocal) return T(1) / x;
  else if constexpr (OP == UnaryOp::Log1p) return std::log1p(x);
  else if constexpr (OP == UnaryOp::Expm1) return std::expm1(x);
  else if constexpr (OP == UnaryOp::Log2) return std::log2(x);
  else if constexpr (OP == UnaryOp::Log10) return std::log10(x);
  else if constexpr (OP == UnaryOp::Exp2) return std::exp2(x);
  else if constexpr (OP == UnaryOp::Sin) return std::sin(x);
  else if constexpr (OP == UnaryOp::Cos) return std::cos(x);
  else if constexpr (OP == UnaryOp::Tanh) return std::tanh(x);
  else if constexpr (OP == UnaryOp::Sigmoid) return sigmoid_scalar(x);
  else if constexpr (OP == UnaryOp::Erf) return std::erf(x);
  else if constexpr (OP == UnaryOp::IsNan) return is_nan_v(x);
  else if constexpr (OP == UnaryOp::IsInf) {
    if constexpr (std::is_floating_point_v<T>) return std::isinf(x);
    else return false;
  } else if constexpr (OP == UnaryOp::IsFinite) {
    if constexpr (std::is_floating_point_v<T>) return std::isfinite(x);
    else return true;
  } else if constexpr (OP == UnaryOp::LogicalNot) return !(bool)x;
  else {
    if constexpr (std::is_same_v<T, bool>) return !x;
    else return (T)~x;
  }
}

// ------------------------------------------------------------------------------------------------ kernels

// out = op(a, b). out's dtype is the compute dtype (bool for comparison/logical ops); a and b have the compute
// dtype (bool for logical ops) and out's shape, or are 0-d CPU scalars.
using BinaryFn = void(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b);
inline Op<BinaryFn> binary_op{"binary"};

// out = op(x). x has the compute dtype (bool for LogicalNot) and out's shape.
using UnaryFn = void(UnaryOp op, const Tensor& out, const Tensor& x, const UnaryParams& p);
inline Op<UnaryFn> unary_op{"unary"};

// out = cond ? a : b. cond is bool; a, b have out's dtype; all expanded to out's shape (or 0-d CPU scalars).
using WhereFn = void(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);
inline Op<WhereFn> where_op{"where"};

// Set by integer floor_divide/remainder kernels when a divisor is zero; read and cleared by the op.
bool take_int_div_by_zero_flag();
void set_int_div_by_zero_flag();

// ------------------------------------------------------------------------------------------------ frontend
// Type promotion, broadcasting, casting of inputs, output allocation; the bindings call these.

struct ScalarArg {  // a Python number operand
  enum Kind : int8_t { Bool, Int, Float } kind;
  double d = 0;
  int64_t i = 0;
};

// PyTorch's result_type for two operands, each a tensor or a Python number.
DType result_type(const Tensor* a, const ScalarArg* sa, const Tensor* b, const ScalarArg* sb);
// A 0-d CPU tensor of dtype holding the number.
Tensor scalar_tensor(const ScalarArg& s, DType dtype);

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, DType compute);
// out = op(a, b) into an existing tensor (in-place ops and out=): out's shape must equal the broadcast shape.
void binary_into(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, DType compute);
Tensor unary(UnaryOp op, const Tensor& x, const UnaryParams& p = {});
void unary_into(UnaryOp op, const Tensor& out, const Tensor& x, const UnaryParams& p = {});
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

}  // namespace dlcore
