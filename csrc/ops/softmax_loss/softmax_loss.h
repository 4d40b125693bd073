// Softmax, log_softmax and the losses: cross_entropy (fused log-softmax + NLL on class indices), nll_loss, the
// pointwise losses (mse, l1, smooth_l1, huber, binary_cross_entropy, binary_cross_entropy_with_logits,
// hinge_embedding) and multi_margin_loss; forward and backward.
//
// softmax over dim d: the input (contiguous) is viewed as [O, R, I] with R = size(d);
//   softmax:     y = exp(x - m) / sum_r exp(x - m),   m = max_r x           (stable)
//   log_softmax: y = (x - m) - log sum_r exp(x - m)   (shift first: x - (m + log sum) loses log sum in the rounding
//                of m + log sum when |m| is large, e.g. -0.6934 for log(1/2) at m = 1e4 in float32)
//   backward:    softmax gx = y (g - sum_r g y);  log_softmax gx = g - exp(y) sum_r g
// cross_entropy: logits [N, C], target [N] (int64 class indices), weight [C] (optional), ignore_index,
//   label smoothing e. With lse_n = log sum_c exp(x_nc), w_t = weight[t_n] (1 without weight), W = sum_c w_c
//   (lse_n is kept as the pair (m_n, log sum_c exp(x_nc - m_n)) and lse_n - x_nc computed as nll_of_logit below):
//   loss_n = (1 - e) w_t (lse_n - x_nt) + (e / C) sum_c w_c (lse_n - x_nc)        (0 where t_n == ignore_index)
//   d loss_n / d x_nc = p_nc ((1 - e) w_t + e W / C) - (1 - e) w_t [c == t_n] - (e / C) w_c,  p = softmax(x_n)
//   The kernel returns loss_n and w_n (w_t, 0 if ignored); reduction="mean" divides sum loss_n by sum w_n.
// nll_loss: input [N, C] log-probabilities: loss_n = -w_t x_nt; d/dx_nt = -w_t.
// multi_margin_loss: loss_n = sum_{i != t} w_t max(0, margin - x_nt + x_ni)^p / C, p in {1, 2}.
// Pointwise losses (elementwise over same-shape x, y; w, pos_weight already expanded to that shape) are the
// DLCORE_HOSTDEV functions below.
#pragma once
#include <cmath>
#include <cstdint>
#include <utility>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"
#include "ops/activation/activation.h"  // logsigmoid_fwd

namespace dlcore {

// ------------------------------------------------------------------------------------------------ pointwise losses

enum class PwLoss : int8_t { Mse, L1, SmoothL1, Huber, Bce, BceLogits, HingeEmbedding, Count };
const char* pw_loss_name(PwLoss k);

// a: smooth_l1 beta, huber delta, hinge margin.
struct PwLossParams {
  double a = 1.0;
};

template <class T> DLCORE_HOSTDEV T sgn(T v) { return (T)((v > T(0)) - (v < T(0))); }
template <class T> DLCORE_HOSTDEV T log_sigmoid(T x) { return logsigmoid_fwd(x); }  // (activation.h)

// Loss of one element: x input, y target, w weight (1 if none), pw pos_weight (1 if none).
template <class T>
DLCORE_HOSTDEV T pw_loss_fwd(PwLoss k, T x, T y, T w, T pw, T a) {
  switch (k) {
    case PwLoss::Mse: { T d = x - y; return d * d; }
    case PwLoss::L1: return std::fabs(x - y);
    // smooth_l1 / huber without a branch, by m = min(|d|, a): 0.5 m^2 / a + (|d| - m) and 0.5 m^2 + a (|d| - m)
    // (the quadratic part up to a, the linear part beyond; 1 / a loop-invariant). Written as selects on |d| < a
    // the compiler kept a branch (mispredicted every other element) and a scalar loop: 1.3 ms for 256k elements,
    // torch 49 us. (A NaN d gives m = a and NaN through |d| - m.)
    case PwLoss::SmoothL1: {
      const T inv_a = T(1) / a;
      T d = std::fabs(x - y);
      T m = d < a ? d : a;
      return T(0.5) * m * m * inv_a + (d - m);
    }
    case PwLoss::Huber: {
      T d = std::fabs(x - y);
      T m = d < a ? d : a;
      return T(0.5) * m * m + a * (d - m);
    }
    case PwLoss::Bce: {  // torch clamps the logs at -100
      T lx = std::fmax(std::log(x), T(-100)), l1x = std::fmax(std::log1p(-x), T(-100));
      return -w * (y * lx + (T(1) - y) * l1x);
    }
    case PwLoss::BceLogits: {  // (1 - y) x + (1 + (pw - 1) y) softplus(-x)
      T lw = T(1) + (pw - T(1)) * y;
      return w * ((T(1) - y) * x - lw * log_sigmoid(x));
    }
    case PwLoss::HingeEmbedding: {
      T r = T(0);
      if (y != T(1)) r += std::fmax(a - x, T(0));
      if (y != T(-1)) r += x;
      return r;
    }
    default: return T(0);
  }
}

// d loss / d x of one element.
template <class T>
DLCORE_HOSTDEV T pw_loss_bwd(PwLoss k, T x, T y, T w, T pw, T a) {
  switch (k) {
    case PwLoss::Mse: return T(2) * (x - y);
    case PwLoss::L1: return sgn(x - y);
    case PwLoss::SmoothL1: {  // clamp(d, -a, a) / a (NaN kept): torch's d / beta inside, exactly +-1 beyond.
      // (Written as clamp(d / a, -1, 1), the clamp against constants kept a branch per element in gcc 12: 1.5 ms
      // for 256k elements, torch 60 us.)
      T d = x - y;
      d = d < -a ? -a : d;
      d = d > a ? a : d;
      return d / a;
    }
    case PwLoss::Huber: {  // clamp(d, -a, a)
      T d = x - y;
      d = d < -a ? -a : d;
      return d > a ? a : d;
    }
    case PwLoss::Bce: return w * (x - y) / std::fmax((T(1) - x) * x, T(1e-12));
    case PwLoss::BceLogits: {
      T lw = T(1) + (pw - T(1)) * y;
      T s = T(1) / (T(1) + std::exp(-x));
      return w * ((T(1) - y) - lw * (T(1) - s));
    }
    case PwLoss::HingeEmbedding: {
      T r = T(0);
      if (y != T(1) && a - x > T(0)) r -= T(1);
      if (y != T(-1)) r += T(1);
      return r;
    }
    default: return T(0);
  }
}

// ------------------------------------------------------------------------------------------------ log-softmax

// log_softmax of one element from its row's max m and ls = log sum_r exp(x_r - m): the shift is applied first, so
// the result keeps its precision whatever |m| (and softmax is shift-invariant in floating point too).
template <class T> DLCORE_HOSTDEV T log_softmax_of(T x, T m, T ls) { return (x - m) - ls; }
// -log softmax(x)_c = lse - x_c, as ls - (x_c - m).
template <class T> DLCORE_HOSTDEV T nll_of_logit(T x, T m, T ls) { return ls - (x - m); }
// (The backward's softmax(x)_c is exp(x_c - m) / s, with 1 / s = exp(-ls) folded into its factor, as the softmax
// forward; exp(x_c - (m + ls)) would lose the precision again.)

// ------------------------------------------------------------------------------------------------ kernels

// softmax / log_softmax: in, out contiguous, viewed as [O, R, I].
using SoftmaxFwdFn = void(bool log, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I);
using SoftmaxBwdFn = void(bool log, const Tensor& grad_in, const Tensor& grad_out, const Tensor& out, int64_t O,
                          int64_t R, int64_t I);
inline Op<SoftmaxFwdFn> softmax_fwd_op{"softmax"};
inline Op<SoftmaxBwdFn> softmax_bwd_op{"softmax_backward"};

struct CrossEntropyArgs {
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
};
// logits [N, C], target int64 [N], weight [C] or undefined -> loss [N], wt [N], lse [N, 2] (all preallocated);
// lse row n = (m_n, log sum_c exp(x_nc - m_n)), the log-sum-exp split so that the backward keeps the precision.
using CrossEntropyFwdFn = void(const Tensor& loss, const Tensor& wt, const Tensor& lse, const Tensor& logits,
                               const Tensor& target, const Tensor& weight, const CrossEntropyArgs& a);
// grad_logits [N, C] = d/dx of sum_n g_n loss_n, g_n = grad[n * grad_stride] * scale.
using CrossEntropyBwdFn = void(const Tensor& grad_logits, const Tensor& grad, int64_t grad_stride, double scale,
                               const Tensor& logits, const Tensor& lse, const Tensor& target, const Tensor& weight,
                               const CrossEntropyArgs& a);
inline Op<CrossEntropyFwdFn> cross_entropy_fwd_op{"cross_entropy"};
inline Op<CrossEntropyBwdFn> cross_entropy_bwd_op{"cross_entropy_backward"};

// nll: input [N, C] -> loss [N], wt [N]; backward writes grad_input [N, C].
using NllFwdFn = void(const Tensor& loss, const Tensor& wt, const Tensor& input, const Tensor& target,
                      const Tensor& weight, int64_t ignore_index);
using NllBwdFn = void(const Tensor& grad_input, const Tensor& grad, int64_t grad_stride, double scale,
                      const Tensor& target, const Tensor& weight, int64_t ignore_index);
inline Op<NllFwdFn> nll_fwd_op{"nll_loss"};
inline Op<NllBwdFn> nll_bwd_op{"nll_loss_backward"};

// Pointwise losses: every tensor contiguous with x's shape (w, pw, grad may be undefined); grad is read as
// grad[i * gstride]: gstride 0 for a one-element grad (reduction mean/sum: the upstream scalar stays on the device).
using PwLossFwdFn = void(PwLoss k, const Tensor& out, const Tensor& x, const Tensor& y, const Tensor& w,
                         const Tensor& pw, const PwLossParams& p);
using PwLossBwdFn = void(PwLoss k, const Tensor& grad_x, const Tensor& grad, int64_t gstride, double scale, const Tensor& x,
                         const Tensor& y, const Tensor& w, const Tensor& pw, const PwLossParams& p);
inline Op<PwLossFwdFn> pw_loss_fwd_op{"pointwise_loss"};
inline Op<PwLossBwdFn> pw_loss_bwd_op{"pointwise_loss_backward"};

using MultiMarginFwdFn = void(const Tensor& loss, const Tensor& input, const Tensor& target, int p, double margin,
                              const Tensor& weight);
using MultiMarginBwdFn = void(const Tensor& grad_input, const Tensor& grad, int64_t grad_stride, double scale,
                              const Tensor& input, const Tensor& target, int p, double margin, const Tensor& weight);
inline Op<MultiMarginFwdFn> multi_margin_fwd_op{"multi_margin_loss"};
inline Op<MultiMarginBwdFn> multi_margin_bwd_op{"multi_margin_loss_backward"};

// ---- frontend ----
Tensor softmax(const Tensor& x, int64_t dim, bool log);
Tensor softmax_backward(const Tensor& grad_out, const Tensor& out, int64_t dim, bool log);

// Returns (loss [N], wt [N], lse [N, 2]); checks shapes, dtypes and target range.
struct CrossEntropyResult {
  Tensor loss, wt, lse;
};
CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                                 const CrossEntropyArgs& a);
Tensor cross_entropy_backward(const Tensor& grad, double scale, const Tensor& logits, const Tensor& lse,
                              const Tensor& target, const Tensor& weight, const CrossEntropyArgs& a);

// nll_loss on [N, C] log-probabilities: returns (loss [N], wt [N]).
std::pair<Tensor, Tensor> nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                                   int64_t ignore_index);
Tensor nll_loss_backward(const Tensor& grad, double scale, const Tensor& input, const Tensor& target,
                         const Tensor& weight, int64_t ignore_index);

// Pointwise losses: x, y same shape; w, pw undefined or the same shape. Returns the per-element loss.
Tensor pw_loss(PwLoss k, const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw,
               const PwLossParams& p);
// grad_x = dloss/dx * (grad defined ? grad : 1) * scale.
Tensor pw_loss_backward(PwLoss k, const Tensor& grad, double scale, const Tensor& x, const Tensor& y,
                        const Tensor& w, const Tensor& pw, const PwLossParams& p);

// multi_margin_loss: input [N, C], target [N]; returns loss [N] (not divided by N).
Tensor multi_margin_loss(const Tensor& input, const Tensor& target, int p, double margin, const Tensor& weight);
Tensor multi_margin_loss_backward(const Tensor& grad, double scale, const Tensor& input, const Tensor& target, int p,
                                  double margin, const Tensor& weight);

}  // namespace dlcore
