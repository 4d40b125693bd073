// Activations: relu, leaky_relu, elu, sigmoid, tanh, gelu (erf and tanh forms), softplus, hardtanh (relu6), silu,
// mish, hardswish, hardsigmoid; forward and backward.
//
// Shapes: any; out/grad_in have the input's shape. The kernels see contiguous tensors (the frontend copies
// non-contiguous input) of float32 or float64, flattened to n elements.
//
// Formulas (per element; the DLCORE_HOSTDEV functions below are the single definition for CPU and CUDA):
//   relu(x)        = max(x, 0)                         d/dx = [y > 0]            (from the output y)
//   leaky_relu(x)  = x > 0 ? x : a x                   d/dx = x > 0 ? 1 : a      (from x, or y when a >= 0)
//   elu(x)         = x > 0 ? x : a (e^x - 1)           d/dx = x > 0 ? 1 : a e^x  (from x)
//   sigmoid(x)     = 1 / (1 + e^-x)                    d/dx = y (1 - y)          (from y)
//   tanh(x)                                            d/dx = 1 - y^2            (from y)
//   gelu(x)        = x Phi(x) = x/2 erfc(-x/sqrt2)  d/dx = Phi(x) + x phi(x)  (from x)
//   gelu_tanh(x)   = x/2 (1 + tanh(k (x + c x^3))),  k = sqrt(2/pi), c = 0.044715
//                    d/dx = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 c x^2)
//   softplus(x)    = b x > th ? x : log(1 + e^{b x}) / b     d/dx = b x > th ? 1 : sigmoid(b x)  (from x)
//   hardtanh(x)    = min(max(x, a), b)  (relu6: a = 0, b = 6)  d/dx = a < y < b ? 1 : 0  (from the output y; a
//                    select, so an inf/NaN upstream gradient at a clipped element gives 0, like torch)
//   silu(x)        = x sigmoid(x)                     d/dx = s (1 + x (1 - s)), s = sigmoid(x)  (from x)
//   mish(x)        = x tanh(softplus(x))  (softplus = x beyond 20, as torch)
//                    d/dx = t + x s (1 - t^2), t = tanh(softplus(x)), s = sigmoid(x)  (from x)
//   hardswish(x)   = x min(max(x + 3, 0), 6) / 6        d/dx = x <= -3 ? 0 : x < 3 ? x / 3 + 1/2 : 1  (from x)
//   hardsigmoid(x) = min(max(x + 3, 0), 6) / 6          d/dx = -3 < x < 3 ? 1/6 : 0 (a select)  (from x)
//   threshold(x)   = x <= a ? b : x                     d/dx = x <= a ? 0 : 1  (from x; a threshold, b value)
//   hardshrink(x)  = -a <= x <= a ? 0 : x               d/dx = -a <= x <= a ? 0 : 1 (selects)  (from x)
//   softshrink(x)  = x > a ? x - a : x < -a ? x + a : 0  d/dx = -a <= x <= a ? 0 : 1  (from x)
//   logsigmoid(x)  = min(x, 0) - log1p(e^-|x|)          d/dx = sigmoid(-x): e^-|x| / (1 + e^-|x|) or 1 / (...)
//   (the gradients at the kinks are torch's)
// NaN propagates through every forward (relu(NaN) = NaN, like torch).
#pragma once
#include <cmath>
#include <cstdint>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

enum class Act : int8_t {
  Relu, LeakyRelu, Elu, Sigmoid, Tanh, Gelu, GeluTanh, Softplus, Hardtanh, Silu, Mish, Hardswish, Hardsigmoid,
  Threshold, Hardshrink, Softshrink, LogSigmoid, Count
};
constexpr int kNumActs = (int)Act::Count;
const char* act_name(Act a);

// a: leaky_relu negative slope, elu alpha, softplus beta, hardtanh min_val; b: softplus threshold, hardtanh max_val.
struct ActParams {
  double a = 0, b = 0;
};

// ------------------------------------------------------------------------------------------------ formulas

template <class T> DLCORE_HOSTDEV T relu_fwd(T x) { return x < T(0) ? T(0) : x; }
// (y <= 0 ? 0 : g, torch's threshold_backward: a NaN output passes the gradient)
template <class T> DLCORE_HOSTDEV T relu_bwd(T g, T y) { return y <= T(0) ? T(0) : g; }

template <class T> DLCORE_HOSTDEV T leaky_relu_fwd(T x, T a) { return x > T(0) ? x : x * a; }
template <class T> DLCORE_HOSTDEV T leaky_relu_bwd(T g, T x, T a) { return x > T(0) ? g : g * a; }

template <class T> DLCORE_HOSTDEV T elu_fwd(T x, T a) { return x > T(0) ? x : a * std::expm1(x); }
template <class T> DLCORE_HOSTDEV T elu_bwd(T g, T x, T a) { return x > T(0) ? g : g * a * std::exp(x); }

template <class T> DLCORE_HOSTDEV T sigmoid_fwd(T x) { return T(1) / (T(1) + std::exp(-x)); }
template <class T> DLCORE_HOSTDEV T sigmoid_bwd(T g, T y) { return g * y * (T(1) - y); }

template <class T> DLCORE_HOSTDEV T tanh_fwd(T x) { return std::tanh(x); }
template <class T> DLCORE_HOSTDEV T tanh_bwd(T g, T y) { return g * (T(1) - y * y); }

constexpr double kSqrt1_2 = 0.70710678118654752440;   // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/sqrt(2 pi)
constexpr double kSqrt2_Pi = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kGeluC = 0.044715;

// Phi(x) = erfc(-x/sqrt2)/2: no cancellation for x < 0, where (1 + erf(x/sqrt2))/2 loses the tail.
template <class T> DLCORE_HOSTDEV T gelu_fwd(T x) { return T(0.5) * x * std::erfc(-x * T(kSqrt1_2)); }
template <class T> DLCORE_HOSTDEV T gelu_bwd(T g, T x) {
  T cdf = T(0.5) * std::erfc(-x * T(kSqrt1_2));
  T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
  return g * (cdf + x * pdf);
}

template <class T> DLCORE_HOSTDEV T gelu_tanh_fwd(T x) {
  T u = T(kSqrt2_Pi) * (x + T(kGeluC) * x * x * x);
  return T(0.5) * x * (T(1) + std::tanh(u));
}
template <class T> DLCORE_HOSTDEV T gelu_tanh_bwd(T g, T x) {
  T x2 = x * x;
  T u = T(kSqrt2_Pi) * (x + T(kGeluC) * x2 * x);
  T t = std::tanh(u);
  T du = T(kSqrt2_Pi) * (T(1) + T(3 * kGeluC) * x2);
  return g * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du);
}

template <class T> DLCORE_HOSTDEV T softplus_fwd(T x, T beta, T threshold) {
  T bx = x * beta;
  return bx > threshold ? x : std::log1p(std::exp(bx)) / beta;
}
template <class T> DLCORE_HOSTDEV T softplus_bwd(T g, T x, T beta, T threshold) {
  T bx = x * beta;
  if (bx > threshold) return g;
  T z = std::exp(bx);
  return g * z / (z + T(1));
}

// NaN stays NaN (both comparisons are false). y = clamp(x) gives y <= lo iff x <= lo and y >= hi iff x >= hi, so
// the backward reads the output; at the limits themselves the gradient is 0 (torch's hardtanh_backward).
template <class T> DLCORE_HOSTDEV T hardtanh_fwd(T x, T lo, T hi) { return x < lo ? lo : (x > hi ? hi : x); }
template <class T> DLCORE_HOSTDEV T hardtanh_bwd(T g, T y, T lo, T hi) { return (y <= lo || y >= hi) ? T(0) : g; }

template <class T> DLCORE_HOSTDEV T silu_fwd(T x) { return x / (T(1) + std::exp(-x)); }
template <class T> DLCORE_HOSTDEV T silu_bwd(T g, T x) {
  T s = T(1) / (T(1) + std::exp(-x));
  return g * s * (T(1) + x * (T(1) - s));
}

template <class T> DLCORE_HOSTDEV T mish_fwd(T x) { return x * std::tanh(x > T(20) ? x : std::log1p(std::exp(x))); }
template <class T> DLCORE_HOSTDEV T mish_bwd(T g, T x) {
  if (x > T(20)) return g;  // (the gradient is 1 within an ulp there: +inf gave inf * 0 = NaN; the vector form's rule)
  T t = std::tanh(std::log1p(std::exp(x)));
  T s = T(1) / (T(1) + std::exp(-x));
  return g * (t + x * s * (T(1) - t * t));
}

// min(max(x + 3, 0), 6) with the compares written so that a NaN x stays NaN
template <class T> DLCORE_HOSTDEV T relu6_of_x_plus_3(T x) {
  T r = x + T(3);
  r = r < T(0) ? T(0) : r;
  return r > T(6) ? T(6) : r;
}
template <class T> DLCORE_HOSTDEV T hardswish_fwd(T x) { return x * relu6_of_x_plus_3(x) / T(6); }
template <class T> DLCORE_HOSTDEV T hardswish_bwd(T g, T x) {
  return x <= T(-3) ? T(0) : (x < T(3) ? g * (x / T(3) + T(0.5)) : g);
}
template <class T> DLCORE_HOSTDEV T hardsigmoid_fwd(T x) { return relu6_of_x_plus_3(x) / T(6); }
template <class T> DLCORE_HOSTDEV T hardsigmoid_bwd(T g, T x) { return (x > T(-3) && x < T(3)) ? g / T(6) : T(0); }

// NaN: threshold and hardshrink pass it through (their compares are false), softshrink gives NaN - a = NaN.
template <class T> DLCORE_HOSTDEV T threshold_fwd(T x, T th, T v) { return x <= th ? v : x; }
template <class T> DLCORE_HOSTDEV T threshold_bwd(T g, T x, T th) { return x <= th ? T(0) : g; }
template <class T> DLCORE_HOSTDEV T hardshrink_fwd(T x, T l) { return (x >= -l && x <= l) ? T(0) : x; }
template <class T> DLCORE_HOSTDEV T shrink_bwd(T g, T x, T l) { return (x >= -l && x <= l) ? T(0) : g; }
template <class T> DLCORE_HOSTDEV T softshrink_fwd(T x, T l) {
  return x > l ? x - l : (x < -l ? x + l : (x == x ? T(0) : x));
}

// log(1 / (1 + e^-x)) without overflow or cancellation (also binary_cross_entropy_with_logits' term).
template <class T> DLCORE_HOSTDEV T logsigmoid_fwd(T x) {
  return (x < T(0) ? x : T(0)) - std::log1p(std::exp(-std::fabs(x)));
}
template <class T> DLCORE_HOSTDEV T logsigmoid_bwd(T g, T x) {
  const T z = std::exp(-std::fabs(x));
  return g * ((x >= T(0) ? z : T(1)) / (T(1) + z));
}

// Whether the backward of a reads the forward's output (true) or its input (false).
constexpr bool act_bwd_uses_output(Act a) {
  return a == Act::Relu || a == Act::Sigmoid || a == Act::Tanh || a == Act::Hardtanh;
}

// ------------------------------------------------------------------------------------------------ kernels

// One activation by its enum, at compile time (the scalar paths of the CPU loops and the CUDA kernels).
// s: the saved tensor's element (the output y or the input x, see act_bwd_uses_output).
template <Act A, class T>
DLCORE_HOSTDEV T act_fwd_s(T x, T a, T b) {
  if constexpr (A == Act::Relu) return relu_fwd(x);
  else if constexpr (A == Act::LeakyRelu) return leaky_relu_fwd(x, a);
  else if constexpr (A == Act::Elu) return elu_fwd(x, a);
  else if constexpr (A == Act::Sigmoid) return sigmoid_fwd(x);
  else if constexpr (A == Act::Tanh) return tanh_fwd(x);
  else if constexpr (A == Act::Gelu) return gelu_fwd(x);
  else if constexpr (A == Act::GeluTanh) return gelu_tanh_fwd(x);
  else if constexpr (A == Act::Softplus) return softplus_fwd(x, a, b);
  else if constexpr (A == Act::Silu) return silu_fwd(x);
  else if constexpr (A == Act::Mish) return mish_fwd(x);
  else if constexpr (A == Act::Hardswish) return hardswish_fwd(x);
  else if constexpr (A == Act::Hardsigmoid) return hardsigmoid_fwd(x);
  else if constexpr (A == Act::Threshold) return threshold_fwd(x, a, b);
  else if constexpr (A == Act::Hardshrink) return hardshrink_fwd(x, a);
  else if constexpr (A == Act::Softshrink) return softshrink_fwd(x, a);
  else if constexpr (A == Act::LogSigmoid) return logsigmoid_fwd(x);
  else return hardtanh_fwd(x, a, b);
}

template <Act A, class T>
DLCORE_HOSTDEV T act_bwd_s(T g, T s, T a, T b) {
  if constexpr (A == Act::Relu) return relu_bwd(g, s);
  else if constexpr (A == Act::LeakyRelu) return leaky_relu_bwd(g, s, a);
  else if constexpr (A == Act::Elu) return elu_bwd(g, s, a);
  else if constexpr (A == Act::Sigmoid) return sigmoid_bwd(g, s);
  else if constexpr (A == Act::Tanh) return tanh_bwd(g, s);
  else if constexpr (A == Act::Gelu) return gelu_bwd(g, s);
  else if constexpr (A == Act::GeluTanh) return gelu_tanh_bwd(g, s);
  else if constexpr (A == Act::Softplus) return softplus_bwd(g, s, a, b);
  else if constexpr (A == Act::Silu) return silu_bwd(g, s);
  else if constexpr (A == Act::Mish) return mish_bwd(g, s);
  else if constexpr (A == Act::Hardswish) return hardswish_bwd(g, s);
  else if constexpr (A == Act::Hardsigmoid) return hardsigmoid_bwd(g, s);
  else if constexpr (A == Act::Threshold) return threshold_bwd(g, s, a);
  else if constexpr (A == Act::Hardshrink || A == Act::Softshrink) return shrink_bwd(g, s, a);
  else if constexpr (A == Act::LogSigmoid) return logsigmoid_bwd(g, s);
  else return hardtanh_bwd(g, s, a, b);
}

// out = act(in); out may alias in (in-place). Contiguous, same shape and dtype.
using ActFwdFn = void(Act act, const Tensor& out, const Tensor& in, const ActParams& p);
// grad_in = grad_out * act'(...) where `saved` is the output y (act_bwd_uses_output) or the input x.
using ActBwdFn = void(Act act, const Tensor& grad_in, const Tensor& grad_out, const Tensor& saved,
                      const ActParams& p);
inline Op<ActFwdFn> act_fwd_op{"activation"};
inline Op<ActBwdFn> act_bwd_op{"activation_backward"};

// ---- frontend (checks, contiguity, allocation, dispatch) ----
Tensor activation(Act act, const Tensor& x, const ActParams& p);
// In place on x (x must be contiguous; the frontend raises otherwise).
void activation_(Act act, const Tensor& x, const ActParams& p);
Tensor activation_backward(Act act, const Tensor& grad_out, const Tensor& saved, const ActParams& p);

// prelu with one weight per channel (CPU, float32/float64): y = x > 0 ? x : w[c] x, c the index along dim 1 (below
// 2-D one channel, as torch). The backward returns dx (when need_gx) and dw[c] = sum over the channel of g min(x, 0) (when
// need_gw); an output not asked for is undefined.
Tensor prelu_channels(const Tensor& x, const Tensor& w);
// glu along dim (CPU, float32/float64): x's halves a, b along dim, y = a sigmoid(b); the backward returns dx (the
// two halves' gradients side by side along dim).
Tensor glu_cpu(const Tensor& x, int64_t dim);
Tensor glu_backward_cpu(const Tensor& g, const Tensor& x, int64_t dim);
std::pair<Tensor, Tensor> prelu_channels_backward(const Tensor& g, const Tensor& x, const Tensor& w, bool need_gx,
                                                  bool need_gw);

}  // namespace dlcore
