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
  // more arithmetic (appended, so that the earlier ops keep their numbers and their kernels' mangled names):
  Atan2, Copysign, Xlogy,                                            // integer operands computed in float32
  Hypot, LogAddExp, LogAddExp2, NextAfter,                           // floating only
  Fmax, Fmin, Heaviside,                                             // any dtype
  Fmod,                                                              // any dtype but bool (C's truncated remainder)
  Count
};
constexpr int kNumBinaryOps = (int)BinaryOp::Count;
const char* binary_op_name(BinaryOp op);
constexpr bool binary_is_comparison(BinaryOp op) { return op >= BinaryOp::Eq && op <= BinaryOp::Ge; }
constexpr bool binary_is_logical(BinaryOp op) { return op >= BinaryOp::LogicalAnd && op <= BinaryOp::LogicalXor; }
constexpr bool binary_is_bitwise(BinaryOp op) { return op >= BinaryOp::BitwiseAnd && op <= BinaryOp::BitwiseXor; }
// Ops whose integer/bool operands are computed in float32 (as div): atan2, copysign, xlogy.
constexpr bool binary_promotes_int_to_float(BinaryOp op) {
  return op == BinaryOp::Div || (op >= BinaryOp::Atan2 && op <= BinaryOp::Xlogy);
}
// Integer division ops: a zero integer divisor sets the division-by-zero flag (the op then raises).
constexpr bool binary_is_int_div(BinaryOp op) {
  return op == BinaryOp::FloorDiv || op == BinaryOp::Remainder || op == BinaryOp::Fmod;
}
// Ops with kernels for floating dtypes only (integer operands are an error, as in torch).
constexpr bool binary_is_float_only(BinaryOp op) { return op >= BinaryOp::Atan2 && op <= BinaryOp::NextAfter; }

enum class UnaryOp : int8_t {
  Neg, Abs, Sign, Square, Clamp, PowScalar,                 // any numeric dtype
  Floor, Ceil, Round, Trunc,                                // identity on integers
  Exp, Log, Sqrt, Rsqrt, Reciprocal, Log1p, Expm1, Log2, Log10, Exp2,
  Sin, Cos, Tanh, Sigmoid, Erf,                             // floating only (integers computed in float32)
  IsNan, IsInf, IsFinite,                                   // out bool
  LogicalNot,                                               // input cast to bool, out bool
  BitwiseNot,                                               // integer and bool
  // appended (the earlier ops keep their numbers and their kernels' mangled names):
  NanToNum,                                                 // floating kernels (integer tensors: a copy, in Python)
  Asin, Acos, Atan, Sinh, Cosh, Tan, Asinh, Acosh, Atanh,   // floating only (integers computed in float32) ...
  Erfc, Erfinv, Lgamma, Digamma, Trigamma, Frac, Deg2Rad, Rad2Deg, Sinc, Logit,  // ... to here
  SignBit,                                                  // out bool
  Count
};
constexpr int kNumUnaryOps = (int)UnaryOp::Count;
const char* unary_op_name(UnaryOp op);
constexpr bool unary_is_float_only(UnaryOp op) {
  return (op >= UnaryOp::Exp && op <= UnaryOp::Erf) || (op >= UnaryOp::Asin && op <= UnaryOp::Logit);
}
constexpr bool unary_out_is_bool(UnaryOp op) {
  return (op >= UnaryOp::IsNan && op <= UnaryOp::LogicalNot) || op == UnaryOp::SignBit;
}

// Parameters of the parameterised unary ops: Clamp (lo, hi; has_lo/has_hi), PowScalar (exponent in a), Logit
// (eps in a when has_a: x clamped to [eps, 1 - eps]), NanToNum (nan -> a, +inf -> b, -inf -> c).
struct UnaryParams {
  double a = 0, b = 0, c = 0;
  bool has_a = false, has_b = false;
};

// y += alpha x in one pass (Tensor.add_(other, alpha=...): an optimizer step written by hand, an EMA) for contiguous
// cpu float32/float64 tensors of one shape and dtype; false (nothing done) for any other case, which the caller
// composes (mul, then add_). [256,1000], 1 thread: 52 us composed, torch 25.
bool add_scaled_inplace_cpu(const Tensor& y, const Tensor& x, double alpha);

// Fused three-operand ops on contiguous cpu float32/float64 tensors of one shape and dtype, in one pass (they were
// two or three composed ops): kind 0 addcmul a + (s b) c, 1 addcdiv a + (s b) / c, 2 lerp(a, b, s) in torch's
// two-sided form. An undefined Tensor (nothing done) for any other case, which the caller composes.
Tensor fused_ternary_cpu(int kind, const Tensor& a, const Tensor& b, const Tensor& c, double s);

// y[i] = x[i]^e over n contiguous cpu elements on the calling thread (y may be x), by the running ISA's pow loop
// (the vector power on AVX-512): for other families' kernels (local_response_norm's scale^-beta).
void pow_scalar_contiguous_cpu(float* y, const float* x, float e, int64_t n);
void pow_scalar_contiguous_cpu(double* y, const double* x, double e, int64_t n);

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
// fmod of integers: C's truncated remainder (the sign of a); b == 0 gives 0 (the caller reports the error), b == -1
// 0 (INT_MIN % -1 traps).
template <class T>
DLCORE_HOSTDEV T fmod_int(T a, T b) {
  if (b == T(0)) return T(0);
  if constexpr (std::is_signed_v<T>) {
    if (b == T(-1)) return T(0);
  }
  return (T)(a % b);
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
  // (selects only, so that the CPU loops vectorise: NaN fails both comparisons and gives 0, like torch; +-0 -> +0)
  else if constexpr (std::is_floating_point_v<T>) return x > T(0) ? T(1) : x < T(0) ? T(-1) : T(0);
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

// ------------------------------------------------------------------------------------------ special functions
// Written for T = float or double with T arithmetic only (the CUDA float kernels must not touch double).

// fmax/fmin (NumPy's, torch.fmax): NaN only when both are NaN; otherwise the larger/smaller of the non-NaN ones.
template <class T>
DLCORE_HOSTDEV T fmax_of(T a, T b) {
  if (is_nan_v(a)) return b;
  if (is_nan_v(b)) return a;
  return a > b ? a : b;
}
template <class T>
DLCORE_HOSTDEV T fmin_of(T a, T b) {
  if (is_nan_v(a)) return b;
  if (is_nan_v(b)) return a;
  return a < b ? a : b;
}

// xlogy(x, y) = x * log(y), 0 where x == 0 (unless y is NaN), as torch.xlogy.
template <class T>
DLCORE_HOSTDEV T xlogy_of(T x, T y) {
  if (y != y) return y;
  if (x == T(0)) return T(0);
  return x * std::log(y);
}

// log(exp(a) + exp(b)) = max + log1p(exp(-|a - b|)); equal infinities give themselves (inf - inf is NaN).
template <class T>
DLCORE_HOSTDEV T logaddexp_of(T a, T b) {
  if (std::isinf(a) && a == b) return a;
  T m = max_propagate_nan(a, b);
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}
// log2(2^a + 2^b) = max + log1p(2^-|a - b|) / ln 2.
template <class T>
DLCORE_HOSTDEV T logaddexp2_of(T a, T b) {
  if (std::isinf(a) && a == b) return a;
  T m = max_propagate_nan(a, b);
  return m + std::log1p(std::exp2(-std::fabs(a - b))) * T(1.4426950408889634);
}

// heaviside(x, v): 0 for x < 0, v at x == 0, 1 for x > 0 (NaN x gives 0, as torch).
template <class T>
DLCORE_HOSTDEV T heaviside_of(T x, T v) {
  if constexpr (std::is_same_v<T, bool>) return x ? true : v;
  else return x == T(0) ? v : (T)(x > T(0));
}

// erfinv: Giles' single-precision approximation ("Approximating the erfinv function", GPU Gems 4) as the start,
// then two Newton steps on erf(a) - y (as torch's calc_erfinv); +-1 give +-inf, |y| > 1 NaN.
template <class T>
DLCORE_HOSTDEV T erfinv_of(T y) {
  if (y != y) return y;
  T ay = std::fabs(y);
  if (ay > T(1)) return T(NAN);
  if (ay == T(1)) return std::copysign(T(INFINITY), y);
  T w = -std::log((T(1) - y) * (T(1) + y));
  T p;
  if (w < T(5)) {
    w = w - T(2.5);
    p = T(2.81022636e-08);
    p = T(3.43273939e-07) + p * w;
    p = T(-3.5233877e-06) + p * w;
    p = T(-4.39150654e-06) + p * w;
    p = T(0.00021858087) + p * w;
    p = T(-0.00125372503) + p * w;
    p = T(-0.00417768164) + p * w;
    p = T(0.246640727) + p * w;
    p = T(1.50140941) + p * w;
  } else {
    w = std::sqrt(w) - T(3);
    p = T(-0.000200214257);
    p = T(0.000100950558) + p * w;
    p = T(0.00134934322) + p * w;
    p = T(-0.00367342844) + p * w;
    p = T(0.00573950773) + p * w;
    p = T(-0.0076224613) + p * w;
    p = T(0.00943887047) + p * w;
    p = T(1.00167406) + p * w;
    p = T(2.83297682) + p * w;
  }
  T a = p * y;
  const T k = T(1.1283791670955126);  // 2 / sqrt(pi)
  a = a - (std::erf(a) - y) / (k * std::exp(-a * a));
  a = a - (std::erf(a) - y) / (k * std::exp(-a * a));
  return a;
}

// digamma (psi), Cephes' psi as in torch's calc_digamma: 0 gives -inf with the sign flipped (copysign(inf, -x)),
// negative integers NaN; x < 0 by the reflection psi(1 - x) - pi / tan(pi * frac(x)); up to 10 by the recurrence
// psi(x) = psi(x + 1) - 1 / x; then the asymptotic series log(x) - 1 / 2x - sum B_2k / (2k x^2k).
template <class T>
DLCORE_HOSTDEV T digamma_of(T x) {
  const T kPi = T(3.14159265358979323846);
  if (x == T(0)) return std::copysign(T(INFINITY), -x);
  T result = T(0);
  if (x < T(0)) {
    if (x == std::trunc(x)) return T(NAN);
    T r = x - std::trunc(x);
    result = -kPi / std::tan(kPi * r);
    x = T(1) - x;
  }
  while (x < T(10)) {
    result -= T(1) / x;
    x += T(1);
  }
  if (x == T(10)) return result + T(2.25175258906672110764);
  T y = T(0);
  if (x < T(1.0e17)) {
    T z = T(1) / (x * x);
    T p = T(8.33333333333333333333E-2);
    p = p * z + T(-2.10927960927960927961E-2);
    p = p * z + T(7.57575757575757575758E-3);
    p = p * z + T(-4.16666666666666666667E-3);
    p = p * z + T(3.96825396825396825397E-3);
    p = p * z + T(-8.33333333333333333333E-3);
    p = p * z + T(8.33333333333333333333E-2);
    y = z * p;
  }
  return result + std::log(x) - T(0.5) / x - y;
}

// trigamma (psi'), as torch's calc_trigamma: reflection below 1/2, six recurrence steps, asymptotic series.
template <class T>
DLCORE_HOSTDEV T trigamma_of(T x) {
  const T kPi = T(3.14159265358979323846);
  T sign = T(1), result = T(0);
  if (x < T(0.5)) {
    sign = T(-1);
    T s = std::sin(kPi * x);
    result -= (kPi * kPi) / (s * s);
    x = T(1) - x;
  }
  for (int i = 0; i < 6; ++i) {
    result += T(1) / (x * x);
    x += T(1);
  }
  const T ixx = T(1) / (x * x);
  result += (T(1) + T(1) / (T(2) * x) + ixx * (T(1) / T(6) - ixx * (T(1) / T(30) - ixx * (T(1) / T(42))))) / x;
  return sign * result;
}

// sinc(x) = sin(pi x) / (pi x), 1 at 0.
template <class T>
DLCORE_HOSTDEV T sinc_of(T x) {
  if (x == T(0)) return T(1);
  T px = T(3.14159265358979323846) * x;
  return std::sin(px) / px;
}

// logit(x) = log(x / (1 - x)), x clamped to [eps, 1 - eps] first when an eps is given.
template <class T>
DLCORE_HOSTDEV T logit_of(T x, bool has_eps, T eps) {
  if (has_eps && x == x) {
    T hi = T(1) - eps;
    x = x < eps ? eps : (x > hi ? hi : x);
  }
  return std::log(x / (T(1) - x));
}

// nan_to_num: NaN -> nan, +inf -> posinf, -inf -> neginf.
template <class T>
DLCORE_HOSTDEV T nan_to_num_of(T x, T nan, T posinf, T neginf) {
  if constexpr (std::is_floating_point_v<T>) {
    if (x != x) return nan;
    if (x == T(INFINITY)) return posinf;
    if (x == -T(INFINITY)) return neginf;
  }
  return x;
}

template <class T>
DLCORE_HOSTDEV bool signbit_of(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::signbit(x);
  else if constexpr (std::is_signed_v<T>) return x < T(0);
  else return false;
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
  } else if constexpr (OP == BinaryOp::Fmod) {  // exact for floats (std::fmod), C's % for integers
    if constexpr (std::is_floating_point_v<T>) return (T)std::fmod(a, b);
    else return fmod_int(a, b);
  } else if constexpr (OP == BinaryOp::Atan2) return (T)std::atan2(a, b);
  else if constexpr (OP == BinaryOp::Copysign) return (T)std::copysign(a, b);
  else if constexpr (OP == BinaryOp::Xlogy) return xlogy_of(a, b);
  else if constexpr (OP == BinaryOp::Hypot) return (T)std::hypot(a, b);
  else if constexpr (OP == BinaryOp::LogAddExp) return logaddexp_of(a, b);
  else if constexpr (OP == BinaryOp::LogAddExp2) return logaddexp2_of(a, b);
  else if constexpr (OP == BinaryOp::NextAfter) return (T)std::nextafter(a, b);
  else if constexpr (OP == BinaryOp::Fmax) return fmax_of(a, b);
  else if constexpr (OP == BinaryOp::Fmin) return fmin_of(a, b);
  else if constexpr (OP == BinaryOp::Heaviside) return heaviside_of(a, b);
  else if constexpr (OP == BinaryOp::Eq) return a == b;
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
  if constexpr (OP == UnaryOp::Neg) return (T)(-x);  // (0 - x gave +0.0 for +0.0: -x flips the sign bit)
  else if constexpr (OP == UnaryOp::Abs) {
    if constexpr (std::is_unsigned_v<T>) return x;
    else if constexpr (std::is_floating_point_v<T>) return std::fabs(x);  // (abs(-0.0) = +0.0)
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
  } else if constexpr (OP == UnaryOp::NanToNum) {
    return nan_to_num_of(x, (T)p.a, (T)p.b, (T)p.c);
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
  else if constexpr (OP == UnaryOp::Asin) return std::asin(x);
  else if constexpr (OP == UnaryOp::Acos) return std::acos(x);
  else if constexpr (OP == UnaryOp::Atan) return std::atan(x);
  else if constexpr (OP == UnaryOp::Sinh) return std::sinh(x);
  else if constexpr (OP == UnaryOp::Cosh) return std::cosh(x);
  else if constexpr (OP == UnaryOp::Tan) return std::tan(x);
  else if constexpr (OP == UnaryOp::Asinh) return std::asinh(x);
  else if constexpr (OP == UnaryOp::Acosh) return std::acosh(x);
  else if constexpr (OP == UnaryOp::Atanh) return std::atanh(x);
  else if constexpr (OP == UnaryOp::Erfc) return std::erfc(x);
  else if constexpr (OP == UnaryOp::Erfinv) return erfinv_of(x);
  else if constexpr (OP == UnaryOp::Lgamma) return std::lgamma(x);
  else if constexpr (OP == UnaryOp::Digamma) return digamma_of(x);
  else if constexpr (OP == UnaryOp::Trigamma) return trigamma_of(x);
  else if constexpr (OP == UnaryOp::Frac) return x - std::trunc(x);
  else if constexpr (OP == UnaryOp::Deg2Rad) return x * T(0.017453292519943295);
  else if constexpr (OP == UnaryOp::Rad2Deg) return x * T(57.295779513082320876798154814105);
  else if constexpr (OP == UnaryOp::Sinc) return sinc_of(x);
  else if constexpr (OP == UnaryOp::Logit) return logit_of(x, p.has_a, (T)p.a);
  else if constexpr (OP == UnaryOp::IsNan) return is_nan_v(x);
  else if constexpr (OP == UnaryOp::IsInf) {
    if constexpr (std::is_floating_point_v<T>) return std::isinf(x);
    else return false;
  } else if constexpr (OP == UnaryOp::IsFinite) {
    if constexpr (std::is_floating_point_v<T>) return std::isfinite(x);
    else return true;
  } else if constexpr (OP == UnaryOp::SignBit) return signbit_of(x);
  else if constexpr (OP == UnaryOp::LogicalNot) return !(bool)x;
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
// A number as binary op's operand beside tensors of compute dtype `dtype` (torch's rule for 16-bit floats: mul/div
// keep a float number in float32, the other ops round it to the dtype).
Tensor scalar_operand(const ScalarArg& s, DType dtype, BinaryOp op);
// Filling or creating an integer tensor from a number outside the type's range (int8 with 300) is an error, as in
// torch ("value cannot be converted to type int8 without overflow"); arithmetic with such a scalar wraps instead.
void check_fill_range(const ScalarArg& s, DType dtype);

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, DType compute);
// out = op(a, b) into an existing tensor (in-place ops and out=): out's shape must equal the broadcast shape.
void binary_into(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b, DType compute);
Tensor unary(UnaryOp op, const Tensor& x, const UnaryParams& p = {});
void unary_into(UnaryOp op, const Tensor& out, const Tensor& x, const UnaryParams& p = {});
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

}  // namespace dlcore
