// Fused optimizer updates: one call updates every parameter of a group (lists of tensors), in place.
//
// Shapes: params[i], grads[i] and every state tensor of parameter i have the same shape, dtype (float32 or
// float64), device, and are contiguous (the Python layer guarantees it; the binding checks it).
//
// Formulas (PyTorch's single-tensor implementations, same order of operations; g is the gradient, p the param):
//   all:      g = maximize ? -g : g
//   SGD:      g += wd*p;  if momentum: buf = first ? g : momentum*buf + (1-dampening)*g;
//             g = nesterov ? g + momentum*buf : buf;     p -= lr*g
//   Adam:     g += wd*p (Adam) or p *= 1 - lr*wd (AdamW, decoupled);  m = m + (1-b1)*(g-m);  v = b2*v + (1-b2)*g*g;
//             vmax = max(vmax, v) (amsgrad);  p -= (lr/(1-b1^t)) * m / (sqrt(v or vmax)/sqrt(1-b2^t) + eps)
//   Adagrad:  g += wd*p;  s += g*g;  p -= (lr/(1+(t-1)*lr_decay)) * g / (sqrt(s) + eps)
//   RMSprop:  g += wd*p;  a = alpha*a + (1-alpha)*g*g;  if centered: ga = ga + (1-alpha)*(g-ga), d = sqrt(a-ga*ga)
//             else d = sqrt(a);  d += eps;  if momentum: buf = momentum*buf + g/d, p -= lr*buf  else p -= lr*g/d
//   Adamax:   g += wd*p;  m = lerp(m, g, 1-b1);  u = max(b2*u, |g| + eps);  p += (-lr/(1-b1^t)) * m / u
//   NAdam:    g += wd*p or p *= 1 - lr*wd (decoupled);  m = lerp(m, g, 1-b1);  v = b2*v + (1-b2)*g*g;
//             d = sqrt(v/(1-b2^t)) + eps;  p += (-lr*(1-mu_t)/(1-prod_t)) * g / d;
//             p += (-lr*mu_{t+1}/(1-prod_t*mu_{t+1})) * m / d   with mu_t = b1*(1 - 0.5*0.96^(t*momentum_decay)) and
//             prod_t = mu_1*...*mu_t (the state mu_product, kept by the Python layer in torch's scalar dtype)
//   RAdam:    g += wd*p or p *= 1 - lr*wd (decoupled);  m = lerp(m, g, 1-b1);  v = b2*v + (1-b2)*g*g;
//             rho_inf = 2/(1-b2) - 1, rho_t = rho_inf - 2t*b2^t/(1-b2^t);  mb = m/(1-b1^t);
//             rho_t > 5: p -= mb*lr * (sqrt(1-b2^t)/(sqrt(v)+eps)) * rect_t, else p -= mb*lr
//   Adadelta: g += wd*p;  s = rho*s + (1-rho)*g*g;  d = sqrt(acc+eps)/sqrt(s+eps)*g;  acc = rho*acc + (1-rho)*d*d;
//             p -= lr*d
//   Rprop:    f = eta+ if g*prev > 0, eta- if < 0, else 1;  step = clamp(step*f, step_min, step_max);
//             g = 0 where f == eta-;  p -= sign(g)*step;  prev = g            (no weight decay, as torch)
//   ASGD:     g += wd*p;  p *= 1 - lambd*eta;  p -= eta*g;  ax = mu == 1 ? p : ax + (p-ax)*mu  (eta, mu per parameter,
//             the Python layer's state, recomputed after each step as torch's single-tensor path does)
// lerp(a, b, w) is torch's: |w| < 0.5 ? a + w*(b-a) : b - (b-a)*(1-w).
// The per-element math is written once below (DLCORE_HOSTDEV) for the CPU loops and future CUDA kernels.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

struct SgdArgs {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};
struct AdamArgs {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;  // decoupled = AdamW
};
struct AdagradArgs {
  double lr, lr_decay, weight_decay, eps;
  bool maximize;
};
struct RmspropArgs {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered, maximize;
};
struct AdamaxArgs {
  double lr, beta1, beta2, eps, weight_decay;
  bool maximize;
};
struct NadamArgs {
  double lr, beta1, beta2, eps, weight_decay, momentum_decay;
  bool decoupled, maximize;
};
struct RadamArgs {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled, maximize;
};
struct AdadeltaArgs {
  double lr, rho, eps, weight_decay;
  bool maximize;
};
struct RpropArgs {
  double eta_minus, eta_plus, step_min, step_max;
  bool maximize;
};
struct AsgdArgs {
  double lambd, weight_decay;
  bool maximize;
};

// Host-side scalars of one step (double, as torch computes them in Python), shared by the CPU loops and launchers.
struct NadamScalars {
  double bc2, c_grad, c_avg;  // 1-b2^t; the coefficients of g/d and m/d
};
inline NadamScalars nadam_scalars(const NadamArgs& a, int64_t step, double mu_product) {
  double t = (double)step;
  double mu = a.beta1 * (1.0 - 0.5 * std::pow(0.96, t * a.momentum_decay));
  double mu_next = a.beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1.0) * a.momentum_decay));
  double prod_next = mu_product * mu_next;
  return {1.0 - std::pow(a.beta2, t), (-a.lr * (1.0 - mu)) / (1.0 - mu_product), (-a.lr * mu_next) / (1.0 - prod_next)};
}
struct RadamScalars {
  double bc1, bc2_sqrt, rect;
  bool rectified;  // rho_t > 5
};
inline RadamScalars radam_scalars(const RadamArgs& a, int64_t step) {
  double t = (double)step;
  double bc1 = 1.0 - std::pow(a.beta1, t), bc2 = 1.0 - std::pow(a.beta2, t);
  double rho_inf = 2.0 / (1.0 - a.beta2) - 1.0;
  double rho_t = rho_inf - 2.0 * t * std::pow(a.beta2, t) / bc2;
  RadamScalars r{bc1, std::pow(bc2, 0.5), 0.0, rho_t > 5.0};
  if (r.rectified)
    r.rect = std::pow((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t), 0.5);
  return r;
}

// ---- per-element math (shared by every ISA build of the loops and by CUDA kernels) ----

template <class T>
DLCORE_HOSTDEV T optim_grad(T g, T p, T wd, bool maximize) {
  g = maximize ? -g : g;
  return wd != T(0) ? g + wd * p : g;
}

template <class T>
DLCORE_HOSTDEV void sgd_momentum_elem(T& p, T g, T& buf, bool first, T lr, T momentum, T damp1, bool nesterov) {
  buf = first ? g : momentum * buf + damp1 * g;
  g = nesterov ? g + momentum * buf : buf;
  p = p - lr * g;
}

// step_size = lr / (1 - b1^t); bc2_sqrt = sqrt(1 - b2^t)
template <class T>
DLCORE_HOSTDEV void adam_elem(T& p, T g, T& m, T& v, T* vmax, T omb1, T b2, T omb2, T step_size, T bc2_sqrt, T eps) {
  m = m + omb1 * (g - m);
  v = b2 * v + omb2 * g * g;
  T vv = v;
  if (vmax) {
    *vmax = *vmax > v ? *vmax : v;
    vv = *vmax;
  }
  T denom = std::sqrt(vv) / bc2_sqrt + eps;
  p = p - step_size * (m / denom);
}

template <class T>
DLCORE_HOSTDEV void adagrad_elem(T& p, T g, T& s, T clr, T eps) {
  s = s + g * g;
  p = p - clr * (g / (std::sqrt(s) + eps));
}

template <class T>
DLCORE_HOSTDEV T rmsprop_denom(T g, T& a, T* ga, T alpha, T oma, T eps) {
  a = alpha * a + oma * g * g;
  T d;
  if (ga) {
    *ga = *ga + oma * (g - *ga);
    d = std::sqrt(a - *ga * *ga);
  } else {
    d = std::sqrt(a);
  }
  return d + eps;
}

template <class T>
DLCORE_HOSTDEV T optim_lerp(T a, T b, T w) {
  T d = b - a;
  return (w < T(0.5) && w > T(-0.5)) ? a + w * d : b - d * (T(1) - w);
}

// u = max(b2*u, |g| + eps) (NaN-propagating like torch.maximum); p += neg_clr * m / u
template <class T>
DLCORE_HOSTDEV void adamax_elem(T& p, T g, T& m, T& u, T omb1, T b2, T eps, T neg_clr) {
  m = optim_lerp<T>(m, g, omb1);
  T a = u * b2, b = (g < T(0) ? -g : g) + eps;
  u = (a > b || a != a) ? a : b;
  p = p + neg_clr * m / u;
}

template <class T>
DLCORE_HOSTDEV void nadam_elem(T& p, T g, T& m, T& v, T omb1, T b2, T omb2, T bc2, T eps, T c_grad, T c_avg) {
  m = optim_lerp<T>(m, g, omb1);
  v = v * b2 + omb2 * g * g;
  T d = std::sqrt(v / bc2) + eps;
  p = p + c_grad * g / d;
  p = p + c_avg * m / d;
}

// rect > 0: the rectified (adaptive) update; rect == 0: the SGD-with-momentum update of the first steps.
template <class T>
DLCORE_HOSTDEV void radam_elem(T& p, T g, T& m, T& v, T omb1, T b2, T omb2, T bc1, T lr, T bc2_sqrt, T eps, T rect,
                               bool rectified) {
  m = optim_lerp<T>(m, g, omb1);
  v = v * b2 + omb2 * g * g;
  T upd = m / bc1 * lr;
  if (rectified) upd = upd * (bc2_sqrt / (std::sqrt(v) + eps)) * rect;
  p = p - upd;
}

template <class T>
DLCORE_HOSTDEV void adadelta_elem(T& p, T g, T& s, T& acc, T rho, T omr, T eps, T neg_lr) {
  s = s * rho + omr * g * g;
  T d = std::sqrt(acc + eps) / std::sqrt(s + eps) * g;
  acc = acc * rho + omr * d * d;
  p = p + neg_lr * d;
}

template <class T>
DLCORE_HOSTDEV void rprop_elem(T& p, T g, T& prev, T& step, T eta_minus, T eta_plus, T step_min, T step_max) {
  T s = g * prev;
  T f = s > T(0) ? eta_plus : (s < T(0) ? eta_minus : T(1));
  T st = step * f;
  st = st < step_min ? step_min : st;
  st = st > step_max ? step_max : st;
  step = st;
  g = f == eta_minus ? T(0) : g;
  T sg = (g > T(0) ? T(1) : T(0)) - (g < T(0) ? T(1) : T(0));
  p = p - sg * st;
  prev = g;
}

// decay = 1 - lambd*eta; copy_ax: mu == 1 (ax = p, torch's shortcut)
template <class T>
DLCORE_HOSTDEV void asgd_elem(T& p, T g, T& ax, T decay, T neg_eta, T mu, bool copy_ax) {
  p = p * decay;
  p = p + neg_eta * g;
  ax = copy_ax ? p : ax + (p - ax) * mu;
}

// ---- the ops (CPU registered in optim_cpu.cpp) ----
using TensorList = std::vector<Tensor>;
// first[i]: parameter i has a fresh momentum buffer (bufs[i] is filled with the gradient). bufs empty: no momentum.
using SgdFn = void(const TensorList& params, const TensorList& grads, const TensorList& bufs,
                   const std::vector<uint8_t>& first, const SgdArgs& a);
// steps[i]: the step number t of parameter i after this update (1 on the first). max_sqs empty unless amsgrad.
using AdamFn = void(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
                    const TensorList& exp_avg_sqs, const TensorList& max_sqs, const std::vector<int64_t>& steps,
                    const AdamArgs& a);
using AdagradFn = void(const TensorList& params, const TensorList& grads, const TensorList& sums,
                       const std::vector<int64_t>& steps, const AdagradArgs& a);
// grad_avgs empty unless centered; bufs empty unless momentum > 0.
using RmspropFn = void(const TensorList& params, const TensorList& grads, const TensorList& square_avgs,
                       const TensorList& grad_avgs, const TensorList& bufs, const RmspropArgs& a);

// Capturable Adam (CUDA only, for CUDA graphs): step_tensors[i] is a 0-d tensor of parameter i's dtype on its
// device holding the step number t of this update (already incremented); the bias corrections are computed on the
// device from it, so a captured graph stays right at every replay.
using AdamDevStepFn = void(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
                           const TensorList& exp_avg_sqs, const TensorList& max_sqs, const TensorList& step_tensors,
                           const AdamArgs& a);

// steps[i] as for Adam.
using AdamaxFn = void(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
                      const TensorList& exp_infs, const std::vector<int64_t>& steps, const AdamaxArgs& a);
// mu_products[i]: parameter i's running product mu_1*...*mu_t including this step's mu_t.
using NadamFn = void(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
                     const TensorList& exp_avg_sqs, const std::vector<int64_t>& steps,
                     const std::vector<double>& mu_products, const NadamArgs& a);
using RadamFn = void(const TensorList& params, const TensorList& grads, const TensorList& exp_avgs,
                     const TensorList& exp_avg_sqs, const std::vector<int64_t>& steps, const RadamArgs& a);
using AdadeltaFn = void(const TensorList& params, const TensorList& grads, const TensorList& square_avgs,
                        const TensorList& acc_deltas, const AdadeltaArgs& a);
using RpropFn = void(const TensorList& params, const TensorList& grads, const TensorList& prevs,
                     const TensorList& step_sizes, const RpropArgs& a);
// etas[i], mus[i]: parameter i's eta and mu before this step (the update uses them, the Python layer then advances
// them).
using AsgdFn = void(const TensorList& params, const TensorList& grads, const TensorList& axs,
                    const std::vector<double>& etas, const std::vector<double>& mus, const AsgdArgs& a);

inline Op<SgdFn> sgd_step_op{"sgd_step"};
inline Op<AdamaxFn> adamax_step_op{"adamax_step"};
inline Op<NadamFn> nadam_step_op{"nadam_step"};
inline Op<RadamFn> radam_step_op{"radam_step"};
inline Op<AdadeltaFn> adadelta_step_op{"adadelta_step"};
inline Op<RpropFn> rprop_step_op{"rprop_step"};
inline Op<AsgdFn> asgd_step_op{"asgd_step"};
inline Op<AdamDevStepFn> adam_step_capturable_op{"adam_step_capturable"};
inline Op<AdamFn> adam_step_op{"adam_step"};
inline Op<AdagradFn> adagrad_step_op{"adagrad_step"};
inline Op<RmspropFn> rmsprop_step_op{"rmsprop_step"};

// Per-ISA element-range kernels (optim_loops.h, compiled once per ISA), chosen at run time.
template <class T>
struct OptimKernels {
  void (*sgd)(T* p, const T* g, T* buf, int64_t n, bool first, const SgdArgs& a);
  void (*adam)(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, int64_t step, const AdamArgs& a);
  void (*adagrad)(T* p, const T* g, T* s, int64_t n, int64_t step, const AdagradArgs& a);
  void (*rmsprop)(T* p, const T* g, T* sq, T* ga, T* buf, int64_t n, const RmspropArgs& a);
  void (*adamax)(T* p, const T* g, T* m, T* u, int64_t n, int64_t step, const AdamaxArgs& a);
  void (*nadam)(T* p, const T* g, T* m, T* v, int64_t n, int64_t step, double mu_product, const NadamArgs& a);
  void (*radam)(T* p, const T* g, T* m, T* v, int64_t n, int64_t step, const RadamArgs& a);
  void (*adadelta)(T* p, const T* g, T* s, T* acc, int64_t n, const AdadeltaArgs& a);
  void (*rprop)(T* p, const T* g, T* prev, T* step, int64_t n, const RpropArgs& a);
  void (*asgd)(T* p, const T* g, T* ax, int64_t n, double eta, double mu, const AsgdArgs& a);
};
struct OptimTable {
  OptimKernels<float> f32;
  OptimKernels<double> f64;
};

namespace scalar { void fill_optim_table(OptimTable& t); }
namespace avx2 { void fill_optim_table(OptimTable& t); }
namespace avx512 { void fill_optim_table(OptimTable& t); }

}  // namespace dlcore
