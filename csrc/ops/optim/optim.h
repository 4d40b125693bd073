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

inline Op<SgdFn> sgd_step_op{"sgd_step"};
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
};
struct OptimTable {
  OptimKernels<float> f32;
  OptimKernels<double> f64;
};

namespace scalar { void fill_optim_table(OptimTable& t); }
namespace avx2 { void fill_optim_table(OptimTable& t); }
namespace avx512 { void fill_optim_table(OptimTable& t); }

}  // namespace dlcore
