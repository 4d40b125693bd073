// Optimizer update loops over a contiguous element range, compiled once per ISA: the including file defines
// DLCORE_ISA_NS (scalar | avx2 | avx512) and gets fill_optim_table() in dlcore::DLCORE_ISA_NS. The loops are
// branch-free in the element index (flags are template parameters), so the compiler vectorises them with the
// file's ISA flags; the math is the shared per-element functions of optim.h.
#pragma once
#include <cmath>

#include "ops/optim/optim.h"

namespace dlcore::DLCORE_ISA_NS {

namespace {

template <class T, bool Max, bool WD>
DLCORE_ALWAYS_INLINE T grad_at(const T* __restrict g, const T* __restrict p, int64_t i, T wd) {
  T x = Max ? -g[i] : g[i];
  if constexpr (WD) x = x + wd * p[i];
  return x;
}

template <class T, bool Max, bool WD, bool Mom, bool First, bool Nest>
void sgd_loop(T* __restrict p, const T* __restrict g, T* __restrict buf, int64_t n, T lr, T wd, T mom, T damp1) {
  for (int64_t i = 0; i < n; ++i) {
    T x = grad_at<T, Max, WD>(g, p, i, wd);
    if constexpr (Mom) {
      sgd_momentum_elem<T>(p[i], x, buf[i], First, lr, mom, damp1, Nest);
    } else {
      p[i] = p[i] - lr * x;
    }
  }
}

template <class T, bool Max, bool WD>
void sgd_dispatch_mom(T* p, const T* g, T* buf, int64_t n, bool first, const SgdArgs& a) {
  T lr = (T)a.lr, wd = (T)a.weight_decay, mom = (T)a.momentum, d1 = (T)(1.0 - a.dampening);
  if (!buf || a.momentum == 0) return sgd_loop<T, Max, WD, false, false, false>(p, g, buf, n, lr, wd, mom, d1);
  if (first) {
    if (a.nesterov) return sgd_loop<T, Max, WD, true, true, true>(p, g, buf, n, lr, wd, mom, d1);
    return sgd_loop<T, Max, WD, true, true, false>(p, g, buf, n, lr, wd, mom, d1);
  }
  if (a.nesterov) return sgd_loop<T, Max, WD, true, false, true>(p, g, buf, n, lr, wd, mom, d1);
  return sgd_loop<T, Max, WD, true, false, false>(p, g, buf, n, lr, wd, mom, d1);
}

template <class T>
void sgd_range(T* p, const T* g, T* buf, int64_t n, bool first, const SgdArgs& a) {
  bool wd = a.weight_decay != 0;
  if (a.maximize) {
    if (wd) return sgd_dispatch_mom<T, true, true>(p, g, buf, n, first, a);
    return sgd_dispatch_mom<T, true, false>(p, g, buf, n, first, a);
  }
  if (wd) return sgd_dispatch_mom<T, false, true>(p, g, buf, n, first, a);
  return sgd_dispatch_mom<T, false, false>(p, g, buf, n, first, a);
}

template <class T, bool Max, bool WD, bool Decoupled, bool Ams>
void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, T* __restrict vmax,
               int64_t n, T wd, T decay, T omb1, T b2, T omb2, T step_size, T bc2_sqrt, T eps) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (Decoupled) p[i] = p[i] * decay;
    T x = grad_at<T, Max, WD && !Decoupled>(g, p, i, wd);
    adam_elem<T>(p[i], x, m[i], v[i], Ams ? vmax + i : nullptr, omb1, b2, omb2, step_size, bc2_sqrt, eps);
  }
}

template <class T, bool Max, bool WD>
void adam_dispatch(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, int64_t step, const AdamArgs& a) {
  double bc1 = 1.0 - std::pow(a.beta1, (double)step);
  double bc2 = 1.0 - std::pow(a.beta2, (double)step);
  T step_size = (T)(a.lr / bc1), bc2_sqrt = (T)std::sqrt(bc2);
  T wd = (T)a.weight_decay, decay = (T)(1.0 - a.lr * a.weight_decay);
  T omb1 = (T)(1.0 - a.beta1), b2 = (T)a.beta2, omb2 = (T)(1.0 - a.beta2), eps = (T)a.eps;
  bool ams = a.amsgrad && vmax;
  if (a.decoupled && WD) {
    if (ams) return adam_loop<T, Max, WD, true, true>(p, g, m, v, vmax, n, wd, decay, omb1, b2, omb2, step_size,
                                                      bc2_sqrt, eps);
    return adam_loop<T, Max, WD, true, false>(p, g, m, v, vmax, n, wd, decay, omb1, b2, omb2, step_size, bc2_sqrt,
                                              eps);
  }
  if (ams) return adam_loop<T, Max, WD, false, true>(p, g, m, v, vmax, n, wd, decay, omb1, b2, omb2, step_size,
                                                     bc2_sqrt, eps);
  return adam_loop<T, Max, WD, false, false>(p, g, m, v, vmax, n, wd, decay, omb1, b2, omb2, step_size, bc2_sqrt,
                                             eps);
}

template <class T>
void adam_range(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, int64_t step, const AdamArgs& a) {
  bool wd = a.weight_decay != 0;
  if (a.maximize) {
    if (wd) return adam_dispatch<T, true, true>(p, g, m, v, vmax, n, step, a);
    return adam_dispatch<T, true, false>(p, g, m, v, vmax, n, step, a);
  }
  if (wd) return adam_dispatch<T, false, true>(p, g, m, v, vmax, n, step, a);
  return adam_dispatch<T, false, false>(p, g, m, v, vmax, n, step, a);
}

template <class T, bool Max, bool WD>
void adagrad_loop(T* __restrict p, const T* __restrict g, T* __restrict s, int64_t n, T wd, T clr, T eps) {
  for (int64_t i = 0; i < n; ++i) {
    T x = grad_at<T, Max, WD>(g, p, i, wd);
    adagrad_elem<T>(p[i], x, s[i], clr, eps);
  }
}

template <class T>
void adagrad_range(T* p, const T* g, T* s, int64_t n, int64_t step, const AdagradArgs& a) {
  T clr = (T)(a.lr / (1.0 + (double)(step - 1) * a.lr_decay)), wd = (T)a.weight_decay, eps = (T)a.eps;
  bool w = a.weight_decay != 0;
  if (a.maximize) {
    if (w) return adagrad_loop<T, true, true>(p, g, s, n, wd, clr, eps);
    return adagrad_loop<T, true, false>(p, g, s, n, wd, clr, eps);
  }
  if (w) return adagrad_loop<T, false, true>(p, g, s, n, wd, clr, eps);
  return adagrad_loop<T, false, false>(p, g, s, n, wd, clr, eps);
}

template <class T, bool Max, bool WD, bool Centered, bool Mom>
void rmsprop_loop(T* __restrict p, const T* __restrict g, T* __restrict sq, T* __restrict ga, T* __restrict buf,
                  int64_t n, T wd, T lr, T alpha, T oma, T eps, T mom) {
  for (int64_t i = 0; i < n; ++i) {
    T x = grad_at<T, Max, WD>(g, p, i, wd);
    T d = rmsprop_denom<T>(x, sq[i], Centered ? ga + i : nullptr, alpha, oma, eps);
    if constexpr (Mom) {
      buf[i] = mom * buf[i] + x / d;
      p[i] = p[i] - lr * buf[i];
    } else {
      p[i] = p[i] - lr * (x / d);
    }
  }
}

template <class T, bool Max, bool WD>
void rmsprop_dispatch(T* p, const T* g, T* sq, T* ga, T* buf, int64_t n, const RmspropArgs& a) {
  T wd = (T)a.weight_decay, lr = (T)a.lr, alpha = (T)a.alpha, oma = (T)(1.0 - a.alpha), eps = (T)a.eps,
    mom = (T)a.momentum;
  bool c = a.centered && ga, m = a.momentum > 0 && buf;
  if (c && m) return rmsprop_loop<T, Max, WD, true, true>(p, g, sq, ga, buf, n, wd, lr, alpha, oma, eps, mom);
  if (c) return rmsprop_loop<T, Max, WD, true, false>(p, g, sq, ga, buf, n, wd, lr, alpha, oma, eps, mom);
  if (m) return rmsprop_loop<T, Max, WD, false, true>(p, g, sq, ga, buf, n, wd, lr, alpha, oma, eps, mom);
  return rmsprop_loop<T, Max, WD, false, false>(p, g, sq, ga, buf, n, wd, lr, alpha, oma, eps, mom);
}

template <class T>
void rmsprop_range(T* p, const T* g, T* sq, T* ga, T* buf, int64_t n, const RmspropArgs& a) {
  bool w = a.weight_decay != 0;
  if (a.maximize) {
    if (w) return rmsprop_dispatch<T, true, true>(p, g, sq, ga, buf, n, a);
    return rmsprop_dispatch<T, true, false>(p, g, sq, ga, buf, n, a);
  }
  if (w) return rmsprop_dispatch<T, false, true>(p, g, sq, ga, buf, n, a);
  return rmsprop_dispatch<T, false, false>(p, g, sq, ga, buf, n, a);
}

template <class T>
void fill_kernels(OptimKernels<T>& k) {
  k.sgd = &sgd_range<T>;
  k.adam = &adam_range<T>;
  k.adagrad = &adagrad_range<T>;
  k.rmsprop = &rmsprop_range<T>;
}

}  // namespace

void fill_optim_table(OptimTable& t) {
  fill_kernels(t.f32);
  fill_kernels(t.f64);
}

}  // namespace dlcore::DLCORE_ISA_NS
