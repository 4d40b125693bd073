// Normalisation layers: batch_norm (training with batch statistics and the running-stat update; eval with the
// running statistics) and local_response_norm (across channels, AlexNet); forward and backward.
//
// batch_norm: x contiguous, viewed as [N, C, S] (S = product of the spatial dims; 1 for (N, C) input), n = N S.
//   training: mean_c = sum x / n, var_c = sum (x - mean_c)^2 / n (biased, used to normalise),
//             running_mean = (1 - m) running_mean + m mean_c, running_var = (1 - m) running_var + m var_c n/(n-1)
//   eval:     mean_c = running_mean, var_c = running_var
//   y = (x - mean_c) invstd_c w_c + b_c,  invstd_c = 1 / sqrt(var_c + eps)       (w = 1, b = 0 when absent)
//   backward, xhat = (x - mean_c) invstd_c:  dw_c = sum g xhat,  db_c = sum g,
//     training: dx = w_c invstd_c (g - db_c / n - xhat dw_c / n);   eval: dx = g w_c invstd_c
//   Sums accumulate in float64.
// local_response_norm (size, alpha, beta, k), x viewed as [N, C, S]:
//   scale_c = k + alpha / size * sum_{c' = c - size/2}^{c + (size-1)/2} x_c'^2   (channels outside [0, C) count 0)
//   y_c = x_c scale_c^-beta
//   dx_c = g_c scale_c^-beta - (2 alpha beta / size) x_c sum_{j : c in window(j)} g_j x_j scale_j^(-beta-1)
#pragma once
#include <cmath>
#include <cstdint>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

// The formulas take their parameters in T (float kernels must not touch double); the double-parameter forms are
// the same formulas with the parameter rounded to T first.
template <class T> DLCORE_HOSTDEV T bn_invstd_t(T var, T eps) { return T(1) / std::sqrt(var + eps); }
template <class T> DLCORE_HOSTDEV T bn_invstd(T var, double eps) { return bn_invstd_t<T>(var, (T)eps); }
template <class T> DLCORE_HOSTDEV T bn_unbiased(T var, int64_t n) { return n > 1 ? var * (T)n / (T)(n - 1) : var; }
template <class T> DLCORE_HOSTDEV T ema_t(T old, T value, T momentum) { return (T(1) - momentum) * old + momentum * value; }
template <class T> DLCORE_HOSTDEV T ema(T old, T value, double momentum) { return ema_t<T>(old, value, (T)momentum); }
// local_response_norm: y = x scale^-beta with scale = k + coef * (sum of squares over the window), coef = alpha/size.
template <class T> DLCORE_HOSTDEV T lrn_scale_of(T sumsq, T k, T coef) { return k + coef * sumsq; }

struct BatchNormArgs {
  bool training = true;
  double momentum = 0.1;
  double eps = 1e-5;
};

// Forward. x, y [N, C, S]; weight, bias, running_mean, running_var [C] or undefined; save_mean, save_invstd [C]
// (written: the batch statistics in training, the running ones in eval). Running stats are updated in place.
using BatchNormFwdFn = void(const Tensor& y, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                            const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                            const Tensor& running_var, const BatchNormArgs& a);
// Backward: gx [N, C, S] (or undefined: not needed), gw, gb [C] (or undefined).
using BatchNormBwdFn = void(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                            const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd, bool training);
inline Op<BatchNormFwdFn> batch_norm_fwd_op{"batch_norm"};
inline Op<BatchNormBwdFn> batch_norm_bwd_op{"batch_norm_backward"};

struct LrnArgs {
  int64_t size = 5;
  double alpha = 1e-4, beta = 0.75, k = 1.0;
};
using LrnFwdFn = void(const Tensor& y, const Tensor& x, const LrnArgs& a);  // [N, C, S]
using LrnBwdFn = void(const Tensor& gx, const Tensor& g, const Tensor& x, const LrnArgs& a);
inline Op<LrnFwdFn> lrn_fwd_op{"local_response_norm"};
inline Op<LrnBwdFn> lrn_bwd_op{"local_response_norm_backward"};

// ---- frontend: x is (N, C) or (N, C, d1, ...) ----
struct BatchNormResult {
  Tensor y, save_mean, save_invstd;
};
BatchNormResult batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, const BatchNormArgs& a);
// Returns (gx, gw, gb); gw/gb undefined when weight/bias are (or not needed).
struct BatchNormGrads {
  Tensor gx, gw, gb;
};
BatchNormGrads batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                                   const Tensor& save_invstd, bool training, bool need_gx, bool need_gw,
                                   bool need_gb);
Tensor local_response_norm(const Tensor& x, const LrnArgs& a);

// layer_norm on the cpu over the last D elements of x (viewed as [R, D]): y, mean [R], rstd [R] (in x's dtype);
// weight/bias [D] or undefined. The backward returns (gx, gw, gb), each undefined when not wanted.
// y = (x - mean) rstd w + b, rstd = 1 / sqrt(var + eps) (biased var); dx = rstd (g w - mean(g w) - xhat mean(g w xhat)).
using LayerNormFwdFn = void(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                            const Tensor& weight, const Tensor& bias, double eps);
using LayerNormBwdFn = void(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                            const Tensor& weight, const Tensor& mean, const Tensor& rstd);
inline Op<LayerNormFwdFn> layer_norm_fwd_op{"layer_norm"};
inline Op<LayerNormBwdFn> layer_norm_bwd_op{"layer_norm_backward"};
BatchNormResult layer_norm(const Tensor& x, int64_t D, const Tensor& weight, const Tensor& bias, double eps);
BatchNormGrads layer_norm_backward(const Tensor& g, const Tensor& x, int64_t D, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, bool need_gx, bool need_gw, bool need_gb);
Tensor local_response_norm_backward(const Tensor& g, const Tensor& x, const LrnArgs& a);

}  // namespace dlcore
