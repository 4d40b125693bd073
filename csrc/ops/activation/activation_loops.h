// The activation inner loops, compiled once per ISA: the including file defines DLCORE_ISA_NS (scalar, avx2,
// avx512) and DLCORE_VLEN (1, 8, 16) and gets fill_activation_table() in dlcore::DLCORE_ISA_NS. float32 uses
// vecmath.h's vector exp/tanh/erf/log when DLCORE_VLEN > 1; everything else is a plain loop over the formulas of
// activation.h (the compiler vectorises the arithmetic ones for the file's ISA; the scalar build is the reference).
#pragma once
#include <cstring>
#include <type_traits>

#include "ops/activation/activation.h"
#include "ops/activation/activation_tables.h"
#if DLCORE_VLEN > 1
#include "ops/elementwise/vecmath.h"
#endif

namespace dlcore::DLCORE_ISA_NS {

#if DLCORE_VLEN > 1
// min(max(x + 3, 0), 6), a NaN x kept (the constant is the first operand: vmax/vmin return the second for NaN).
DLCORE_ALWAYS_INLINE vf relu6_x3(vf x) { return vmin(vsplat(6.0f), vmax(vsplat(0.0f), x + 3.0f)); }

// mish's t = tanh(softplus(x)) from one exponential: with n = e^x, tanh(log(1 + n)) = ((1 + n)^2 - 1) /
// ((1 + n)^2 + 1) = w / (w + 2), w = n (n + 2) (no cancellation: every term is positive). x is clamped to 20 for
// the exponential (t rounds to 1 from x ~ 9 on; torch's softplus threshold is 20 as well), so w stays finite; a
// NaN x gives a finite t and x t is NaN again. GRAD: also sigmoid(x) = n / (1 + n) and 1 - t^2 = 4 (w + 1) /
// (w + 2)^2 for the gradient (1 - t t would cancel: at x = 19.5 one ulp of t, times x, was 5e-6 of the gradient).
// Reciprocals (rcp14 + a Newton step on AVX-512) instead of exp, log1p, tanh and a division: within 1e-6 relative
// of float64 (tests/test_layers_activation.py).
template <bool GRAD>
DLCORE_ALWAYS_INLINE void mish_parts(vf x, vf& t, vf& sig, vf& one_minus_t2) {
  const vf n = vexp(vmin(x, vsplat(20.0f)));
  const vf w = n * (n + 2.0f);
  const vf r = vrecip(w + 2.0f);
  t = w * r;
  if constexpr (GRAD) {
    sig = n * vrecip(n + 1.0f);
    one_minus_t2 = 4.0f * (w + 1.0f) * r * r;
  }
}

// Vector float32 versions of the formulas (same math as activation.h, vecmath.h's functions).
template <Act A>
DLCORE_ALWAYS_INLINE vf act_fwd_v(vf x, float a, float b) {
  if constexpr (A == Act::Relu) return vselect(x < 0.0f, vsplat(0.0f), x);
  else if constexpr (A == Act::LeakyRelu) return vselect(x > 0.0f, x, x * a);
  else if constexpr (A == Act::Elu) return vselect(x > 0.0f, x, a * vexpm1(x));  // (expm1: -0 -> -0, and exact near 0)
  else if constexpr (A == Act::Sigmoid) return vsigmoid(x);
  else if constexpr (A == Act::Tanh) return vtanh(x);
  else if constexpr (A == Act::Gelu) {
    vf cdf, ez;
    vnormal_cdf(x, cdf, ez);
    return x * cdf;
  }
  else if constexpr (A == Act::GeluTanh) {
    vf u = (float)kSqrt2_Pi * (x + (float)kGeluC * x * x * x);
    return 0.5f * x * (1.0f + vtanh(u));
  } else if constexpr (A == Act::Hardtanh) {  // selects, so NaN is kept (both compares false)
    return vselect(x < a, vsplat(a), vselect(x > b, vsplat(b), x));
  } else if constexpr (A == Act::Silu) {
    return x * vsigmoid(x);
  } else if constexpr (A == Act::Mish) {
    vf t, unused0, unused1;
    mish_parts<false>(x, t, unused0, unused1);
    return vselect(x > 20.0f, x, x * t);  // (t is 1 within an ulp there; x exactly, as torch)
  } else if constexpr (A == Act::Hardswish) {
    return x * relu6_x3(x) * (1.0f / 6.0f);
  } else if constexpr (A == Act::Hardsigmoid) {
    return relu6_x3(x) * (1.0f / 6.0f);
  } else if constexpr (A == Act::Threshold) {  // (NaN: the compare is false, x passes)
    return vselect((x <= a), vsplat(b), x);
  } else if constexpr (A == Act::Hardshrink) {
    return vselect((x >= -a) & (x <= a), vsplat(0.0f), x);
  } else if constexpr (A == Act::Softshrink) {
    return vselect(x > a, x - a, vselect(x < -a, x + a, vselect(x == x, vsplat(0.0f), x)));
  } else if constexpr (A == Act::LogSigmoid) {  // (NaN: min gives 0, the log1p term NaN)
    return vmin(x, vsplat(0.0f)) - vlog1p(vexp(-vabs(x)));
  } else {  // Softplus: log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|) (one exp, one log)
    vf bx = x * a;
    vf l = vmax(bx, vsplat(0.0f)) + vlog1p(vexp(-vabs(bx)));
    return vselect(x != x, x, vselect(bx > b, x, a == 1.0f ? l : l / a));
  }
}

// s: the saved tensor (y or x, see act_bwd_uses_output).
template <Act A>
DLCORE_ALWAYS_INLINE vf act_bwd_v(vf g, vf s, float a, float b) {
  if constexpr (A == Act::Relu) return vselect(s <= 0.0f, vsplat(0.0f), g);  // (a NaN output passes g, as torch)
  else if constexpr (A == Act::LeakyRelu) return vselect(s > 0.0f, g, g * a);
  else if constexpr (A == Act::Elu) return vselect(s > 0.0f, g, g * a * vexp(s));
  else if constexpr (A == Act::Sigmoid) return g * s * (1.0f - s);
  else if constexpr (A == Act::Tanh) return g * (1.0f - s * s);
  else if constexpr (A == Act::Gelu) {
    vf cdf, ez;
    vnormal_cdf(s, cdf, ez);
    return g * (cdf + s * ((float)kInvSqrt2Pi * ez));
  } else if constexpr (A == Act::GeluTanh) {
    vf x2 = s * s;
    vf t = vtanh((float)kSqrt2_Pi * (s + (float)kGeluC * x2 * s));
    vf du = (float)kSqrt2_Pi * (1.0f + (float)(3 * kGeluC) * x2);
    return g * (0.5f * (1.0f + t) + 0.5f * s * (1.0f - t * t) * du);
  } else if constexpr (A == Act::Hardtanh) {  // s = y; a select: an inf/NaN g at a clipped element gives 0
    return vselect((s <= a) | (s >= b), vsplat(0.0f), g);  // NaN y: both compares false, g passes (as scalar)
  } else if constexpr (A == Act::Silu) {
    const vf sg = vsigmoid(s);
    return g * sg * (1.0f + s * (1.0f - sg));
  } else if constexpr (A == Act::Mish) {
    vf t, sg, omt2;
    mish_parts<true>(s, t, sg, omt2);
    // beyond 20 the gradient is 1 (torch's threshold): 1 - t^2 of the clamped exponential (~1.7e-17) times an
    // unclamped x was not (x = 1e20 gave 1700)
    return vselect(s > 20.0f, g, g * (t + s * sg * omt2));
  } else if constexpr (A == Act::Hardswish) {  // selects as the scalar formula (NaN x: g passes)
    return vselect(s <= -3.0f, vsplat(0.0f), vselect(s < 3.0f, g * (s * (1.0f / 3.0f) + 0.5f), g));
  } else if constexpr (A == Act::Hardsigmoid) {
    return vselect((s > -3.0f) & (s < 3.0f), g * (1.0f / 6.0f), vsplat(0.0f));
  } else if constexpr (A == Act::Threshold) {
    return vselect(s <= a, vsplat(0.0f), g);
  } else if constexpr (A == Act::Hardshrink || A == Act::Softshrink) {
    return vselect((s >= -a) & (s <= a), vsplat(0.0f), g);
  } else if constexpr (A == Act::LogSigmoid) {  // sigmoid(-x) = e^-|x| / (1 + e^-|x|) (x >= 0) or 1 / (1 + e^-|x|)
    const vf z = vexp(-vabs(s));
    return g * (vselect(s >= 0.0f, z, vsplat(1.0f)) * vrecip(1.0f + z));
  } else {
    vf bx = s * a;
    return vselect(bx > b, g, g * vsigmoid(bx));
  }
}
#endif

template <Act A, class T>
void act_fwd_loop(char* yp, const char* xp, int64_t n, const ActParams& p) {
  T* y = reinterpret_cast<T*>(yp);
  const T* x = reinterpret_cast<const T*>(xp);
  const T a = (T)p.a, b = (T)p.b;
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>) {
    int64_t i = 0;
    for (; i + 2 * kVLen <= n; i += 2 * kVLen) {
      vf x0 = vload(x + i), x1 = vload(x + i + kVLen);
      vstore(y + i, act_fwd_v<A>(x0, a, b));
      vstore(y + i + kVLen, act_fwd_v<A>(x1, a, b));
    }
    for (; i + kVLen <= n; i += kVLen) vstore(y + i, act_fwd_v<A>(vload(x + i), a, b));
    if (i < n) {  // tail through a padded vector: every element gets the same formula
      float buf[kVLen] = {};
      std::memcpy(buf, x + i, (n - i) * sizeof(float));
      vstore(buf, act_fwd_v<A>(vload(buf), a, b));
      std::memcpy(y + i, buf, (n - i) * sizeof(float));
    }
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = act_fwd_s<A, T>(x[i], a, b);
}

template <Act A, class T>
void act_bwd_loop(char* gxp, const char* gp, bool g_bcast, const char* sp, int64_t n, const ActParams& p) {
  T* gx = reinterpret_cast<T*>(gxp);
  const T* g = reinterpret_cast<const T*>(gp);
  const T* s = reinterpret_cast<const T*>(sp);
  const T a = (T)p.a, b = (T)p.b;
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>) {
    auto run = [&](auto bcast) {
      constexpr bool kBcast = decltype(bcast)::value;
      const vf g0 = vsplat(g[0]);
      int64_t i = 0;
      for (; i + kVLen <= n; i += kVLen)
        vstore(gx + i, act_bwd_v<A>(kBcast ? g0 : vload(g + i), vload(s + i), a, b));
      if (i < n) {
        float bg[kVLen] = {}, bs[kVLen] = {};
        if (!kBcast) std::memcpy(bg, g + i, (n - i) * sizeof(float));
        std::memcpy(bs, s + i, (n - i) * sizeof(float));
        vstore(bg, act_bwd_v<A>(kBcast ? g0 : vload(bg), vload(bs), a, b));
        std::memcpy(gx + i, bg, (n - i) * sizeof(float));
      }
    };
    if (g_bcast) run(std::true_type{});
    else run(std::false_type{});
    return;
  }
#endif
  if (g_bcast) {
    for (int64_t i = 0; i < n; ++i) gx[i] = act_bwd_s<A, T>(g[0], s[i], a, b);
  } else {
    for (int64_t i = 0; i < n; ++i) gx[i] = act_bwd_s<A, T>(g[i], s[i], a, b);
  }
}

template <class T>
double neg_dot_loop(const char* gp, const char* xp, int64_t n) {
  const T* g = reinterpret_cast<const T*>(gp);
  const T* x = reinterpret_cast<const T*>(xp);
  int64_t i = 0;
  double total = 0;
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>) {
    const vf z = vsplat(0.0f);
    vf acc[4] = {z, z, z, z};
    for (; i + 4 * kVLen <= n; i += 4 * kVLen)
      for (int u = 0; u < 4; ++u) acc[u] += vload(g + i + u * kVLen) * vmin(z, vload(x + i + u * kVLen));
    for (; i + kVLen <= n; i += kVLen) acc[0] += vload(g + i) * vmin(z, vload(x + i));
    const vf s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (int l = 0; l < kVLen; ++l) total += (double)s[l];
  }
#endif
  T acc = T(0);
  for (; i < n; ++i) acc += g[i] * (x[i] > T(0) ? T(0) : x[i]);  // a NaN x carries into the sum
  return total + (double)acc;
}

template <class T>
void glu_fwd_loop(char* yp, const char* ap, const char* bp, int64_t n) {
  T* y = reinterpret_cast<T*>(yp);
  const T* a = reinterpret_cast<const T*>(ap);
  const T* b = reinterpret_cast<const T*>(bp);
  int64_t i = 0;
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>)
    for (; i + kVLen <= n; i += kVLen) vstore(y + i, vload(a + i) * vsigmoid(vload(b + i)));
#endif
  for (; i < n; ++i) y[i] = a[i] * sigmoid_fwd(b[i]);
}

template <class T>
void glu_bwd_loop(char* gap, char* gbp, const char* gp, const char* ap, const char* bp, int64_t n) {
  T* ga = reinterpret_cast<T*>(gap);
  T* gb = reinterpret_cast<T*>(gbp);
  const T* g = reinterpret_cast<const T*>(gp);
  const T* a = reinterpret_cast<const T*>(ap);
  const T* b = reinterpret_cast<const T*>(bp);
  int64_t i = 0;
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>)
    for (; i + kVLen <= n; i += kVLen) {
      const vf s = vsigmoid(vload(b + i)), gs = vload(g + i) * s;
      vstore(ga + i, gs);
      vstore(gb + i, gs * vload(a + i) * (1.0f - s));
    }
#endif
  for (; i < n; ++i) {
    const T s = sigmoid_fwd(b[i]), gs = g[i] * s;
    ga[i] = gs;
    gb[i] = gs * a[i] * (T(1) - s);
  }
}

template <int AI>
void fill_act(ActTable& t) {
  if constexpr (AI < kNumActs) {
    constexpr Act A = (Act)AI;
    t.fwd[AI][0] = &act_fwd_loop<A, float>;
    t.fwd[AI][1] = &act_fwd_loop<A, double>;
    t.bwd[AI][0] = &act_bwd_loop<A, float>;
    t.bwd[AI][1] = &act_bwd_loop<A, double>;
    fill_act<AI + 1>(t);
  }
}

void fill_activation_table(ActTable& t) {
  fill_act<0>(t);
  t.neg_dot[0] = &neg_dot_loop<float>;
  t.neg_dot[1] = &neg_dot_loop<double>;
  t.glu_fwd[0] = &glu_fwd_loop<float>;
  t.glu_fwd[1] = &glu_fwd_loop<double>;
  t.glu_bwd[0] = &glu_bwd_loop<float>;
  t.glu_bwd[1] = &glu_bwd_loop<double>;
}

}  // namespace dlcore::DLCORE_ISA_NS
