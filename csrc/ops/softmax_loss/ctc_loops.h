// The CTC row kernels (ctc.h's CtcRowTable), compiled once per ISA: the including file defines DLCORE_ISA_NS and
// DLCORE_VLEN (float32 lanes). VLEN 1 is the reference: std::exp / std::log, torch's formulas term by term.
// VLEN > 1: GCC vector extensions, DLCORE_VLEN * 4 bytes per vector (float32 and float64 alike), with
//   exp(x): n = round(x / ln2) (magic-number rounding), r = x - n ln2 (Cody-Waite), exp(r) by a polynomial
//           (float32: Cephes' degree 6, float64: Taylor to degree 13, |r| <= ln2/2), times 2^n from the bits;
//           x is clamped to [-87, 88] (float32) / [-708, 709] (float64): exp(-inf) comes out as a denormal-free
//           tiny number, which the callers treat as 0 (lse: added to a sum >= 1; posterior: selected out).
//   log(s) for the lse's s = 1 + exp(.) + exp(.) in [1, 3]: x = s or s/2 in [0.7, 1.5], u = (x-1)/(x+1),
//           log x = 2 atanh u by its series (|u| <= 0.2: 6 terms float32, 12 terms float64).
// Both are within a few ulp on the ranges used; NaN propagates.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/common.h"
#include "ops/softmax_loss/ctc.h"

namespace dlcore::DLCORE_ISA_NS {

namespace ctc_detail {

template <class T> constexpr T kNegInf = -std::numeric_limits<T>::infinity();

#if DLCORE_VLEN == 1

template <class T>
void lse3_row(const void* xv, const void* yv, const void* zv, const void* kv, const void* ev, void* outv, int64_t n) {
  const T *x = (const T*)xv, *y = (const T*)yv, *z = (const T*)zv, *k = (const T*)kv, *e = (const T*)ev;
  T* out = (T*)outv;
  for (int64_t s = 0; s < n; ++s) {
    out[s] = ctc_lse3<T>(x[s], y[s], z[s] + k[s], e[s]);
  }
}

template <class T>
void posterior_row(const void* av, const void* bv, const void* ev, double nll, void* qv, int64_t n) {
  const T *a = (const T*)av, *b = (const T*)bv, *e = (const T*)ev;
  T* q = (T*)qv;
  const T tn = (T)nll;
  for (int64_t s = 0; s < n; ++s) q[s] = ctc_posterior<T>(a[s] + b[s], e[s], tn);
}

template <class T>
void grad_row(const void* lpv, const void* Qv, double gr, void* gv, int64_t n) {
  const T *lp = (const T*)lpv, *Q = (const T*)Qv;
  T* g = (T*)gv;
  const T tg = (T)gr;
  for (int64_t c = 0; c < n; ++c) g[c] = ctc_grad<T>(lp[c], Q[c], tg);
}

#else  // DLCORE_VLEN > 1

constexpr int kBytes = DLCORE_VLEN * 4;

template <class T> struct V;
template <> struct V<float> {
  typedef float v __attribute__((vector_size(kBytes)));
  typedef int32_t i __attribute__((vector_size(kBytes)));
  static constexpr float lo = -87.0f, hi = 88.0f, shifter = 12582912.0f;  // 1.5 * 2^23
  static constexpr int bias = 127, mbits = 23;
};
template <> struct V<double> {
  typedef double v __attribute__((vector_size(kBytes)));
  typedef int64_t i __attribute__((vector_size(kBytes)));
  static constexpr double lo = -708.0, hi = 709.0, shifter = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr int bias = 1023, mbits = 52;
};

template <class T> using vT = typename V<T>::v;
template <class T> using vI = typename V<T>::i;
template <class T> constexpr int kLanes = kBytes / (int)sizeof(T);

template <class T> DLCORE_ALWAYS_INLINE vT<T> splat(T x) { return x - vT<T>{}; }  // (keeps -0.0: see vsplat)
template <class T> DLCORE_ALWAYS_INLINE vT<T> load(const T* p) {
  vT<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T> DLCORE_ALWAYS_INLINE void store(T* p, vT<T> v) { std::memcpy(p, &v, sizeof v); }
template <class T> DLCORE_ALWAYS_INLINE vT<T> sel(vI<T> m, vT<T> a, vT<T> b) {
  return (vT<T>)((m & (vI<T>)a) | (~m & (vI<T>)b));
}

// exp(r), |r| <= ln2/2.
DLCORE_ALWAYS_INLINE vT<float> exp_poly(vT<float> r) {
  vT<float> r2 = r * r;
  vT<float> p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r2 + r + 1.0f;
}
DLCORE_ALWAYS_INLINE vT<double> exp_poly(vT<double> r) {
  // Taylor coefficients 1/k!, k = 13 .. 2, Horner; truncation error < 2e-17 for |r| <= 0.347
  vT<double> p = splat(1.0 / 6227020800.0);
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  return p * (r * r) + r + 1.0;
}

template <class T>
DLCORE_ALWAYS_INLINE vT<T> vexp(vT<T> x) {
  using W = V<T>;
  vT<T> xc = sel<T>(x < W::lo, splat<T>(W::lo), x);
  xc = sel<T>(xc > W::hi, splat<T>(W::hi), xc);  // NaN stays NaN (both compares false)
  vT<T> t = xc * (T)1.44269504088896340736 + W::shifter;
  vT<T> nf = t - W::shifter;
  vT<T> r;
  if constexpr (sizeof(T) == 4) {
    r = xc - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
  } else {
    r = xc - nf * 6.93147180369123816490e-01;
    r = r - nf * 1.90821492927058770002e-10;
  }
  vI<T> pow2 = ((vI<T>)t + W::bias) << W::mbits;  // the shifter's bits above n fall off the top
  return exp_poly(r) * (vT<T>)pow2;
}

// log(s) for s in [1, 3] (or NaN).
template <class T>
DLCORE_ALWAYS_INLINE vT<T> vlog13(vT<T> s) {
  vI<T> big = s > (T)1.41421356237309504880;
  vT<T> x = sel<T>(big, s * (T)0.5, s);
  vT<T> u = (x - (T)1) / (x + (T)1);
  vT<T> u2 = u * u;
  vT<T> p;
  if constexpr (sizeof(T) == 4) {
    p = splat<T>(1.0f / 11);
    p = p * u2 + 1.0f / 9;
    p = p * u2 + 1.0f / 7;
    p = p * u2 + 1.0f / 5;
    p = p * u2 + 1.0f / 3;
  } else {
    p = splat<T>(1.0 / 23);
    p = p * u2 + 1.0 / 21;
    p = p * u2 + 1.0 / 19;
    p = p * u2 + 1.0 / 17;
    p = p * u2 + 1.0 / 15;
    p = p * u2 + 1.0 / 13;
    p = p * u2 + 1.0 / 11;
    p = p * u2 + 1.0 / 9;
    p = p * u2 + 1.0 / 7;
    p = p * u2 + 1.0 / 5;
    p = p * u2 + 1.0 / 3;
  }
  vT<T> l = (u + u) + (u + u) * u2 * p;
  return l + sel<T>(big, splat<T>((T)0.693147180559945309417), splat<T>((T)0));
}

template <class T>
DLCORE_ALWAYS_INLINE vT<T> lse3_vec(vT<T> a, vT<T> b, vT<T> c, vT<T> e) {
  const vT<T> ninf = splat<T>(kNegInf<T>);
  vT<T> m = sel<T>(a > b, a, b);
  m = sel<T>(c > m, c, m);
  vI<T> dead = m == ninf;
  vT<T> ms = sel<T>(dead, splat<T>((T)0), m);
  vT<T> sum = vexp<T>(a - ms) + vexp<T>(b - ms) + vexp<T>(c - ms);
  return sel<T>(dead, ninf, ms + vlog13<T>(sum) + e);
}

// Rows processed a vector at a time; the tail through a stack copy padded with `fill`.
template <class T>
void lse3_row(const void* xv, const void* yv, const void* zv, const void* kv, const void* ev, void* outv, int64_t n) {
  const T *x = (const T*)xv, *y = (const T*)yv, *z = (const T*)zv, *k = (const T*)kv, *e = (const T*)ev;
  T* out = (T*)outv;
  constexpr int L = kLanes<T>;
  int64_t s = 0;
  for (; s + L <= n; s += L)
    store<T>(out + s, lse3_vec<T>(load<T>(x + s), load<T>(y + s), load<T>(z + s) + load<T>(k + s), load<T>(e + s)));
  if (s < n) {
    T bx[L], by[L], bz[L], be[L], bo[L];
    for (int i = 0; i < L; ++i) bx[i] = by[i] = bz[i] = kNegInf<T>, be[i] = 0;
    for (int64_t i = 0; s + i < n; ++i) bx[i] = x[s + i], by[i] = y[s + i], bz[i] = z[s + i] + k[s + i], be[i] = e[s + i];
    store<T>(bo, lse3_vec<T>(load<T>(bx), load<T>(by), load<T>(bz), load<T>(be)));
    for (int64_t i = 0; s + i < n; ++i) out[s + i] = bo[i];
  }
}

template <class T>
DLCORE_ALWAYS_INLINE vT<T> posterior_vec(vT<T> a, vT<T> b, vT<T> e, T nll) {
  vT<T> arg = a + b - e + nll;  // NaN where a + b = e = -inf (torch's -inf - -inf)
  vI<T> zero = arg < V<T>::lo;
  return sel<T>(zero, splat<T>((T)0), vexp<T>(arg));
}

template <class T>
void posterior_row(const void* av, const void* bv, const void* ev, double nll, void* qv, int64_t n) {
  const T *a = (const T*)av, *b = (const T*)bv, *e = (const T*)ev;
  T* q = (T*)qv;
  const T tn = (T)nll;
  constexpr int L = kLanes<T>;
  int64_t s = 0;
  for (; s + L <= n; s += L) store<T>(q + s, posterior_vec<T>(load<T>(a + s), load<T>(b + s), load<T>(e + s), tn));
  if (s < n) {
    T ba[L], bb[L], be[L], bo[L];
    for (int i = 0; i < L; ++i) ba[i] = bb[i] = kNegInf<T>, be[i] = 0;
    for (int64_t i = 0; s + i < n; ++i) ba[i] = a[s + i], bb[i] = b[s + i], be[i] = e[s + i];
    store<T>(bo, posterior_vec<T>(load<T>(ba), load<T>(bb), load<T>(be), tn));
    for (int64_t i = 0; s + i < n; ++i) q[s + i] = bo[i];
  }
}

template <class T>
DLCORE_ALWAYS_INLINE vT<T> grad_vec(vT<T> lp, vT<T> Q, T gr) {
  vT<T> g = (vexp<T>(lp) - Q) * gr;
  g = sel<T>(lp < V<T>::lo, Q * -gr, g);  // exp(lp) is below the clamp: 0
  return sel<T>(lp == kNegInf<T>, splat<T>(std::numeric_limits<T>::quiet_NaN()), g);
}

template <class T>
void grad_row(const void* lpv, const void* Qv, double gr, void* gv, int64_t n) {
  const T *lp = (const T*)lpv, *Q = (const T*)Qv;
  T* g = (T*)gv;
  const T tg = (T)gr;
  constexpr int L = kLanes<T>;
  int64_t c = 0;
  for (; c + L <= n; c += L) store<T>(g + c, grad_vec<T>(load<T>(lp + c), load<T>(Q + c), tg));
  if (c < n) {
    T bl[L], bq[L], bo[L];
    for (int i = 0; i < L; ++i) bl[i] = 0, bq[i] = 0;
    for (int64_t i = 0; c + i < n; ++i) bl[i] = lp[c + i], bq[i] = Q[c + i];
    store<T>(bo, grad_vec<T>(load<T>(bl), load<T>(bq), tg));
    for (int64_t i = 0; c + i < n; ++i) g[c + i] = bo[i];
  }
}

#endif

}  // namespace ctc_detail

void fill_ctc_table(CtcRowTable& t) {
  t.lse3[0] = &ctc_detail::lse3_row<float>;
  t.lse3[1] = &ctc_detail::lse3_row<double>;
  t.posterior[0] = &ctc_detail::posterior_row<float>;
  t.posterior[1] = &ctc_detail::posterior_row<double>;
  t.grad[0] = &ctc_detail::grad_row<float>;
  t.grad[1] = &ctc_detail::grad_row<double>;
}

}  // namespace dlcore::DLCORE_ISA_NS
