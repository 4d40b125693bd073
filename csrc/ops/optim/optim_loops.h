// Optimizer update loops over a contiguous element range, compiled once per ISA: the including file defines
// DLCORE_ISA_NS (scalar | avx2 | avx512) and gets fill_optim_table() in dlcore::DLCORE_ISA_NS. The loops are
// branch-free in the element index (flags are template parameters), so the compiler vectorises them with the
// file's ISA flags; the math is the shared per-element functions of optim.h.
#pragma once
#include <cmath>
#include <type_traits>

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

// Calls f(std::bool_constant<maximize>, std::bool_constant<weight decay>) so loops get both flags at compile time.
template <class F>
void with_grad_flags(bool maximize, bool wd, const F& f) {
  if (maximize) {
    if (wd) return f(std::true_type{}, std::true_type{});
    return f(std::true_type{}, std::false_type{});
  }
  if (wd) return f(std::false_type{}, std::true_type{});
  return f(std::false_type{}, std::false_type{});
}

template <class T, bool Max, bool WD>
void adamax_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict u, int64_t n, T wd, T omb1,
                 T b2, T eps, T neg_clr) {
  for (int64_t i = 0; i < n; ++i) {
    T x = grad_at<T, Max, WD>(g, p, i, wd);
    adamax_elem<T>(p[i], x, m[i], u[i], omb1, b2, eps, neg_clr);
  }
}

template <class T>
void adamax_range(T* p, const T* g, T* m, T* u, int64_t n, int64_t step, const AdamaxArgs& a) {
  T neg_clr = (T)(-(a.lr / (1.0 - std::pow(a.beta1, (double)step))));
  T wd = (T)a.weight_decay, omb1 = (T)(1.0 - a.beta1), b2 = (T)a.beta2, eps = (T)a.eps;
  with_grad_flags(a.maximize, a.weight_decay != 0, [&](auto mx, auto w) {
    adamax_loop<T, decltype(mx)::value, decltype(w)::value>(p, g, m, u, n, wd, omb1, b2, eps, neg_clr);
  });
}

template <class T, bool Max, bool WD, bool Decoupled>
void nadam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n, T wd, T decay,
                T omb1, T b2, T omb2, T bc2, T eps, T c_grad, T c_avg) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (Decoupled) p[i] = p[i] * decay;
    T x = grad_at<T, Max, WD && !Decoupled>(g, p, i, wd);
    nadam_elem<T>(p[i], x, m[i], v[i], omb1, b2, omb2, bc2, eps, c_grad, c_avg);
  }
}

template <class T>
void nadam_range(T* p, const T* g, T* m, T* v, int64_t n, int64_t step, double mu_product, const NadamArgs& a) {
  NadamScalars s = nadam_scalars(a, step, mu_product);
  T wd = (T)a.weight_decay, decay = (T)(1.0 - a.lr * a.weight_decay), omb1 = (T)(1.0 - a.beta1), b2 = (T)a.beta2,
    omb2 = (T)(1.0 - a.beta2), bc2 = (T)s.bc2, eps = (T)a.eps, cg = (T)s.c_grad, ca = (T)s.c_avg;
  with_grad_flags(a.maximize, a.weight_decay != 0, [&](auto mx, auto w) {
    constexpr bool Max = decltype(mx)::value, WD = decltype(w)::value;
    if (WD && a.decoupled)
      return nadam_loop<T, Max, WD, true>(p, g, m, v, n, wd, decay, omb1, b2, omb2, bc2, eps, cg, ca);
    nadam_loop<T, Max, WD, false>(p, g, m, v, n, wd, decay, omb1, b2, omb2, bc2, eps, cg, ca);
  });
}

template <class T, bool Max, bool WD, bool Decoupled, bool Rect>
void radam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n, T wd, T decay,
                T omb1, T b2, T omb2, T bc1, T lr, T bc2_sqrt, T eps, T rect) {
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (Decoupled) p[i] = p[i] * decay;
    T x = grad_at<T, Max, WD && !Decoupled>(g, p, i, wd);
    radam_elem<T>(p[i], x, m[i], v[i], omb1, b2, omb2, bc1, lr, bc2_sqrt, eps, rect, Rect);
  }
}

template <class T>
void radam_range(T* p, const T* g, T* m, T* v, int64_t n, int64_t step, const RadamArgs& a) {
  RadamScalars s = radam_scalars(a, step);
  T wd = (T)a.weight_decay, decay = (T)(1.0 - a.lr * a.weight_decay), omb1 = (T)(1.0 - a.beta1), b2 = (T)a.beta2,
    omb2 = (T)(1.0 - a.beta2), bc1 = (T)s.bc1, lr = (T)a.lr, bc2_sqrt = (T)s.bc2_sqrt, eps = (T)a.eps,
    rect = (T)s.rect;
  with_grad_flags(a.maximize, a.weight_decay != 0, [&](auto mx, auto w) {
    constexpr bool Max = decltype(mx)::value, WD = decltype(w)::value;
    bool dec = WD && a.decoupled;
    if (dec && s.rectified)
      return radam_loop<T, Max, WD, true, true>(p, g, m, v, n, wd, decay, omb1, b2, omb2, bc1, lr, bc2_sqrt, eps,
                                                rect);
    if (dec)
      return radam_loop<T, Max, WD, true, false>(p, g, m, v, n, wd, decay, omb1, b2, omb2, bc1, lr, bc2_sqrt, eps,
                                                 rect);
    if (s.rectified)
      return radam_loop<T, Max, WD, false, true>(p, g, m, v, n, wd, decay, omb1, b2, omb2, bc1, lr, bc2_sqrt, eps,
                                                 rect);
    radam_loop<T, Max, WD, false, false>(p, g, m, v, n, wd, decay, omb1, b2, omb2, bc1, lr, bc2_sqrt, eps, rect);
  });
}

template <class T, bool Max, bool WD>
void adadelta_loop(T* __restrict p, const T* __restrict g, T* __restrict s, T* __restrict acc, int64_t n, T wd,
                   T rho, T omr, T eps, T neg_lr) {
  for (int64_t i = 0; i < n; ++i) {
    T x = grad_at<T, Max, WD>(g, p, i, wd);
    adadelta_elem<T>(p[i], x, s[i], acc[i], rho, omr, eps, neg_lr);
  }
}

template <class T>
void adadelta_range(T* p, const T* g, T* s, T* acc, int64_t n, const AdadeltaArgs& a) {
  T wd = (T)a.weight_decay, rho = (T)a.rho, omr = (T)(1.0 - a.rho), eps = (T)a.eps, neg_lr = (T)(-a.lr);
  with_grad_flags(a.maximize, a.weight_decay != 0, [&](auto mx, auto w) {
    adadelta_loop<T, decltype(mx)::value, decltype(w)::value>(p, g, s, acc, n, wd, rho, omr, eps, neg_lr);
  });
}

template <class T, bool Max>
void rprop_loop(T* __restrict p, const T* __restrict g, T* __restrict prev, T* __restrict st, int64_t n, T em, T ep,
                T smin, T smax) {
  for (int64_t i = 0; i < n; ++i) {
    T x = grad_at<T, Max, false>(g, p, i, T(0));
    rprop_elem<T>(p[i], x, prev[i], st[i], em, ep, smin, smax);
  }
}

template <class T>
void rprop_range(T* p, const T* g, T* prev, T* st, int64_t n, const RpropArgs& a) {
  T em = (T)a.eta_minus, ep = (T)a.eta_plus, smin = (T)a.step_min, smax = (T)a.step_max;
  if (a.maximize) return rprop_loop<T, true>(p, g, prev, st, n, em, ep, smin, smax);
  rprop_loop<T, false>(p, g, prev, st, n, em, ep, smin, smax);
}

template <class T, bool Max, bool WD, bool CopyAx>
void asgd_loop(T* __restrict p, const T* __restrict g, T* __restrict ax, int64_t n, T wd, T decay, T neg_eta, T mu) {
  for (int64_t i = 0; i < n; ++i) {
    T x = grad_at<T, Max, WD>(g, p, i, wd);
    asgd_elem<T>(p[i], x, ax[i], decay, neg_eta, mu, CopyAx);
  }
}

template <class T>
void asgd_range(T* p, const T* g, T* ax, int64_t n, double eta, double mu, const AsgdArgs& a) {
  T wd = (T)a.weight_decay, decay = (T)(1.0 - a.lambd * eta), neg_eta = (T)(-eta), m = (T)mu;
  with_grad_flags(a.maximize, a.weight_decay != 0, [&](auto mx, auto w) {
    constexpr bool Max = decltype(mx)::value, WD = decltype(w)::value;
    if (mu == 1.0) return asgd_loop<T, Max, WD, true>(p, g, ax, n, wd, decay, neg_eta, m);
    asgd_loop<T, Max, WD, false>(p, g, ax, n, wd, decay, neg_eta, m);
  });
}

template <class T>
void fill_kernels(OptimKernels<T>& k) {
  k.sgd = &sgd_range<T>;
  k.adam = &adam_range<T>;
  k.adagrad = &adagrad_range<T>;
  k.rmsprop = &rmsprop_range<T>;
  k.adamax = &adamax_range<T>;
  k.nadam = &nadam_range<T>;
  k.radam = &radam_range<T>;
  k.adadelta = &adadelta_range<T>;
  k.rprop = &rprop_range<T>;
  k.asgd = &asgd_range<T>;
}

}  // namespace

void fill_optim_table(OptimTable& t) {
  fill_kernels(t.f32);
  fill_kernels(t.f64);
}

}  // namespace dlcore::DLCORE_ISA_NS
