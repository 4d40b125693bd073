// Vectorised float32 math (exp, log, tanh, sigmoid, erf, erfinv, atan, atan2, sinh, cosh, asin, acos, logaddexp) written once
// with GCC vector extensions and compiled per ISA: a file compiled with -mavx512f gets 16-lane zmm code, -mavx2
// 8-lane ymm code. Include it only from ISA translation units, after defining DLCORE_ISA_NS (the namespace that
// keeps each ISA's copy apart) and DLCORE_VLEN.
//
// Accuracy (measured against float64 over [-100, 100] and special values in tests/test_elementwise.py):
// exp, log within 2 ulp; tanh, sigmoid, erf within 4 ulp; NaN propagates; exp overflows to inf and underflows to 0.
// atan, asin, acos, sinh, cosh (tests/test_math_extra.py): within 4 ulp, measured 1.1 to 1.4 ulp against mpmath.
// The polynomials are Cephes' (S. Moshier), the classic minimax fits also used by most SIMD math libraries.
#pragma once
#ifndef DLCORE_ISA_NS
#error "define DLCORE_ISA_NS and DLCORE_VLEN before including vecmath.h"
#endif
#include "core/x86_intrin.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace dlcore::DLCORE_ISA_NS {

typedef float vf __attribute__((vector_size(DLCORE_VLEN * 4)));
typedef int32_t vi __attribute__((vector_size(DLCORE_VLEN * 4)));
constexpr int kVLen = DLCORE_VLEN;

DLCORE_ALWAYS_INLINE vf vload(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
DLCORE_ALWAYS_INLINE void vstore(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
// (x - 0, not 0 + x: -0.0 + 0 is +0.0, which lost the sign of a broadcast -0.0 base in pow)
DLCORE_ALWAYS_INLINE vf vsplat(float x) { return x - vf{}; }
DLCORE_ALWAYS_INLINE vi as_int(vf x) { return (vi)x; }    // bit cast (same size vectors)
DLCORE_ALWAYS_INLINE vf as_float(vi x) { return (vf)x; }  // bit cast
// Selects as vector conditionals, not bit masks: GCC then emits one vblendmps (AVX-512) / vblendvps (AVX2) per
// select and vminps/vmaxps for vmin/vmax (their NaN rule is exactly a < b ? a : b), where the and/or form came
// out as two masked xors after inlining (and vmin/vmax as a compare plus those two).
DLCORE_ALWAYS_INLINE vf vselect(vi mask, vf a, vf b) { return mask ? a : b; }
DLCORE_ALWAYS_INLINE vf vabs(vf x) { return as_float(as_int(x) & 0x7fffffff); }
DLCORE_ALWAYS_INLINE vf vmin(vf a, vf b) { return a < b ? a : b; }  // NaN in a -> b
DLCORE_ALWAYS_INLINE vf vmax(vf a, vf b) { return a > b ? a : b; }
// Round to nearest integer (|x| < 2^22) by the magic-number trick.
DLCORE_ALWAYS_INLINE vf vround(vf x) { return (x + 12582912.0f) - 12582912.0f; }
// 2^n for integer n in [-126, 127].
DLCORE_ALWAYS_INLINE vf vpow2i(vi n) { return as_float((n + 127) << 23); }

// exp(x - n ln2) for n = round(x / ln2): r = x - n ln2 in two steps (Cody-Waite), |r| <= ln2/2, then exp(r) by a
// degree-6 polynomial (within 2 ulp). The core of vexp; callers apply 2^n their own way.
// exp(r) for |r| <= ln2/2 (a little beyond is fine): the polynomial.
// exp(r) - 1 for |r| <= ln2/2 without the cancellation: the polynomial's r + r^2 p(r).
DLCORE_ALWAYS_INLINE vf vexpm1_poly(vf r) {
  vf r2 = r * r;
  vf p = vsplat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r2 + r;
}
DLCORE_ALWAYS_INLINE vf vexp_poly(vf r) { return vexpm1_poly(r) + 1.0f; }
DLCORE_ALWAYS_INLINE vf vexp_reduced(vf x, vf n) {
  vf r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  return vexp_poly(r);
}

// exp(x): x = n ln2 + r, |r| <= ln2/2; exp(r) by a degree-6 polynomial; 2^n applied in two halves so that
// n up to 254 (overflow to inf) and down to -252 (gradual underflow to 0) work without special cases.
DLCORE_ALWAYS_INLINE vf vexp(vf x) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  // The same reduction and polynomial in about 20 instead of 37 instructions (every 512-bit op issues on ports 0
  // and 5 only on Intel cores, so the count is the time: 22 -> ~12 cycles per vector on Sapphire Rapids): the
  // clamp by vmaxps/vminps with x as the second operand (a NaN x comes out as itself), n by vrndscaleps, and 2^n by
  // vscalefps, which overflows to inf and underflows gradually to 0 by itself (a NaN y stays NaN).
  // (The maskz forms with a full mask: the plain intrinsics' _mm512_undefined_ps passthrough draws GCC 12's
  // -Wmaybe-uninitialized wherever this is inlined.)
  constexpr __mmask16 all = 0xffff;
  const __m512 xc = _mm512_maskz_min_ps(all, _mm512_set1_ps(89.0f),
                                        _mm512_maskz_max_ps(all, _mm512_set1_ps(-104.0f), (__m512)x));
  const __m512 n = _mm512_maskz_roundscale_ps(all, (__m512)((vf)xc * 1.44269504088896341f),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return (vf)_mm512_maskz_scalef_ps(all, (__m512)vexp_reduced((vf)xc, (vf)n), n);
#else
  vf xc = vmin(vmax(x, vsplat(-104.0f)), vsplat(89.0f));
  xc = vselect(x != x, x, xc);  // keep NaN
  vf n = vround(xc * 1.44269504088896341f);
  vf y = vexp_reduced(xc, n);
  vi ni = __builtin_convertvector(n, vi);
  ni = ni & ~(vi)(x != x);  // NaN lanes: scale 1 (y is NaN already)
  vi n1 = ni >> 1;
  vi n2 = ni - n1;
  return y * vpow2i(n1) * vpow2i(n2);
#endif
}

// log(x) = e ln2 + log(m), m in [sqrt(1/2), sqrt(2)); log(1+f) by Cephes' degree-8 polynomial. vlog_parts gives
// e (as a float), f = m - 1 and the polynomial's part y (log(m) = f + y, y = O(f^2)); vlog, vlog2 and vlog10 combine
// them, each in the order that keeps the most bits (the exponent's term exact for log2).
DLCORE_ALWAYS_INLINE void vlog_parts(vf x, vf& ef, vf& f, vf& y) {
  vi tiny = x < 1.17549435e-38f;  // subnormal (and <= 0): scale up first
  vf xs = vselect(tiny, x * 8388608.0f, x);
  vi bits = as_int(xs);
  vi e = ((bits >> 23) & 0xff) - 126;
  e = e - (tiny & 23);
  vf m = as_float((bits & 0x007fffff) | 0x3f000000);  // in [0.5, 1)
  vi small = m < 0.707106781186547524f;
  ef = __builtin_convertvector(e, vf) - vselect(small, vsplat(1.0f), vsplat(0.0f));
  m = vselect(small, m + m, m) - 1.0f;
  vf z = m * m;
  vf p = vsplat(7.0376836292e-2f);
  p = p * m + -1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m + -1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m + -1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m + -2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  f = m;
  y = p * m * z - 0.5f * z;
}
// Special values of every log: log(0) = -inf, log(<0) = NaN, log(inf) = inf, log(NaN) = NaN.
DLCORE_ALWAYS_INLINE vf vlog_special(vf x, vf r) {
  r = vselect(x == 0.0f, vsplat(-__builtin_inff()), r);
  r = vselect(x < 0.0f, vsplat(__builtin_nanf("")), r);
  r = vselect(x == __builtin_inff(), vsplat(__builtin_inff()), r);
  return vselect(x != x, x, r);
}
DLCORE_ALWAYS_INLINE vf vlog(vf x) {
  vf ef, f, y;
  vlog_parts(x, ef, f, y);
  y = y + ef * -2.12194440e-4f;
  return vlog_special(x, f + y + ef * 0.693359375f);
}
// log2(x) = e + log(m) log2(e): exact for powers of two (log(m) = 0); log2(e) split in two parts (Cephes' log2f).
DLCORE_ALWAYS_INLINE vf vlog2(vf x) {
  vf ef, f, y;
  vlog_parts(x, ef, f, y);
  constexpr float kLog2eM1 = 0.44269504088896340736f;  // log2(e) - 1
  const vf r = y * kLog2eM1 + f * kLog2eM1 + y + f + ef;
  return vlog_special(x, r);
}
// log10(x) = e log10(2) + log(m) log10(e), each constant in two parts (Cephes' log10f).
DLCORE_ALWAYS_INLINE vf vlog10(vf x) {
  vf ef, f, y;
  vlog_parts(x, ef, f, y);
  const vf lm = f + y;
  const vf r = ef * 2.48745663981195213739e-4f + lm * 7.00731903251827651129e-4f + lm * 4.3359375e-1f +
               ef * 3.0078125e-1f;
  return vlog_special(x, r);
}

// 1 / d by the hardware reciprocal estimate refined by Newton steps (rcp14 + 1 step on AVX-512, rcp + 2 steps on
// AVX2: ~1 ulp) instead of a division. d must be finite and nonzero (callers clamp).
DLCORE_ALWAYS_INLINE vf vrecip(vf d) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  vf r = (vf)_mm512_maskz_rcp14_ps(0xffff, (__m512)d);  // (maskz: see vexp)
  return r * (2.0f - d * r);
#elif DLCORE_VLEN == 8 && defined(__AVX__)
  vf r = (vf)_mm256_rcp_ps((__m256)d);
  r = r * (2.0f - d * r);
  return r * (2.0f - d * r);
#else
  return 1.0f / d;
#endif
}

// log1p(u): log(v), v = 1 + u rounded, plus the rounding error of v relative to v, (u - (v - 1)) / v (log(v (1 +
// d)) = log v + d - ..., |d| <= 2^-24; v - 1 is exact for v in [1/2, 2] and the error term vanishes outside it):
// within 2 ulp, u itself where 1 + u rounds to 1, no division (the reciprocal only scales the tiny term). -1 ->
// -inf, inf -> inf, below -1 and NaN -> NaN (from vlog).
DLCORE_ALWAYS_INLINE vf vlog1p(vf u) {
  const vf v = 1.0f + u;
  const vf r = vlog(v) + (u - (v - 1.0f)) * vrecip(vselect(v == 0.0f, vsplat(1.0f), v));
  // (v == 1: |u| < 2^-24, log1p(u) rounds to u, the sign of a zero kept)
  return vselect(v == 0.0f, vsplat(-__builtin_inff()), vselect((u == __builtin_inff()) | (v == 1.0f), u, r));
}

// expm1(x) = 2^n (e^r - 1) + (2^n - 1), x = n ln2 + r (vexp's reduction and polynomial without its + 1): exact
// reduction for |x| < ln2/2 (n = 0), where e^x - 1 would cancel; elsewhere |result| >= 0.29 and the sum loses at
// most an ulp. n >= 64 (x > 44, the -1 far below an ulp): 2^n (e^r - 1 + 1), which stays finite up to 88.72 where
// 2^128 alone would not. -inf -> -1, inf -> inf, NaN -> NaN, +-0 -> +-0.
DLCORE_ALWAYS_INLINE vf vexpm1(vf x) {
  const vf xc = vmin(vsplat(89.0f), vmax(vsplat(-104.0f), x));  // (NaN kept: the constants are the first operands)
  const vf n = vround(xc * 1.44269504088896341f);
  vf r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const vf em1 = vexpm1_poly(r);
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  const __m512 nn = (__m512)n;
  const vf two_n = (vf)_mm512_maskz_scalef_ps(0xffff, _mm512_set1_ps(1.0f), nn);
  const vf small = (vf)_mm512_maskz_scalef_ps(0xffff, (__m512)em1, nn) + (two_n - 1.0f);
  const vf big = (vf)_mm512_maskz_scalef_ps(0xffff, (__m512)(em1 + 1.0f), nn);
#else
  vi ni = __builtin_convertvector(n, vi);
  ni = ni & ~(vi)(x != x);  // NaN lanes: scale 1 (em1 is NaN already)
  const vf h1 = vpow2i(ni >> 1), h2 = vpow2i(ni - (ni >> 1));
  const vf small = em1 * h1 * h2 + (h1 * h2 - 1.0f);
  const vf big = (em1 + 1.0f) * h1 * h2;
#endif
  return vselect(x == 0.0f, x, vselect(n >= 64.0f, big, small));  // (-0 -> -0)
}

// tanh(x) by a rational minimax approximation (odd degree-13 numerator over even degree-6 denominator, Eigen's
// float tanh coefficients) on x clamped to [-7.9053, 7.9053] (beyond it tanh rounds to +-1 within 3e-7).
// Measured against float64 over [-12, 12] and |x| in [1e-8, 1]: relative error <= 3.5e-7 (~3 ulp), no exp, no
// branches, one reciprocal (the denominator is >= 4.89e-3). NaN propagates. About 23 instructions on AVX-512
// against 36 for the exp form of vtanh below.
DLCORE_ALWAYS_INLINE vf vtanh_rational(vf x) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  // x as the second operand of vmaxps/vminps: a NaN x comes out as itself and through the polynomial.
  const vf xc = (vf)_mm512_maskz_min_ps(0xffff, _mm512_set1_ps(7.90531110763549805f),
                                        _mm512_maskz_max_ps(0xffff, _mm512_set1_ps(-7.90531110763549805f),
                                                            (__m512)x));
#else
  const vf xc = vselect(x != x, x, vmin(vmax(x, vsplat(-7.90531110763549805f)), vsplat(7.90531110763549805f)));
#endif
  vf z = xc * xc;
  vf p = vsplat(-2.76076847742355e-16f);
  p = p * z + 2.00018790482477e-13f;
  p = p * z + -8.60467152213735e-11f;
  p = p * z + 5.12229709037114e-08f;
  p = p * z + 1.48572235717979e-05f;
  p = p * z + 6.37261928875436e-04f;
  p = p * z + 4.89352455891786e-03f;
  vf q = vsplat(1.19825839466702e-06f);
  q = q * z + 1.18534705686654e-04f;
  q = q * z + 2.26843463243900e-03f;
  q = q * z + 4.89352518554385e-03f;
  // Exactly +-1 beyond the clamp (the quotient is 1 - 3e-7 there): 1 - tanh^2 must vanish for large |x|, as in
  // GELU's tanh form and the tanh gradients.
  const vf one = as_float(as_int(vsplat(1.0f)) | (as_int(x) & (int32_t)0x80000000));
  return vselect(vabs(x) >= 7.90531110763549805f, one, xc * p * vrecip(q));
}

// tanh: on AVX-512 the rational form above (measured on Sapphire Rapids: 28 -> ~14 cycles per vector);
// elsewhere an odd polynomial for |x| < 0.625 (Cephes), 1 - 2 / (exp(2|x|) + 1) above, sign restored.
DLCORE_ALWAYS_INLINE vf vtanh(vf x) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  return vtanh_rational(x);
#else
  vf ax = vabs(x);
  vf z = x * x;
  vf p = vsplat(-5.70498872745e-3f);
  p = p * z + 2.06390887954e-2f;
  p = p * z + -5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z + -3.33332819422e-1f;
  vf small = x + x * z * p;
  vf e = vexp(vmin(ax, vsplat(20.0f)) * 2.0f);
  vf big = 1.0f - 2.0f / (e + 1.0f);
  big = as_float(as_int(big) | (as_int(x) & (int32_t)0x80000000));
  vf r = vselect(ax < 0.625f, small, big);
  return vselect(x != x, x, r);
#endif
}

// sigmoid(x) = 1 / (1 + exp(-x)); exp(-x) = inf for x < -89 gives exactly 0.
DLCORE_ALWAYS_INLINE vf vsigmoid(vf x) { return 1.0f / (1.0f + vexp(-x)); }

// erf(x): for |x| >= 0.5, 1 - erfc(|x|) with the Chebyshev-fitted erfc of Numerical Recipes (relative error
// < 1.2e-7), sign restored; below, the Maclaurin series.
DLCORE_ALWAYS_INLINE vf verf(vf x) {
  vf ax = vabs(x);
  vf t = 1.0f / (1.0f + 0.5f * ax);
  vf p = vsplat(0.17087277f);
  p = p * t + -0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t + -1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t + -0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t + -1.26551223f;
  vf erfc = t * vexp(-ax * ax + p);
  // Small |x|: the Maclaurin series of erf to x^13 (relative error < 3e-8 for |x| < 0.5).
  vf z = x * x;
  vf q = vsplat(1.0f / 9360.0f);
  q = q * z - 1.0f / 1320.0f;
  q = q * z + 1.0f / 216.0f;
  q = q * z - 1.0f / 42.0f;
  q = q * z + 1.0f / 10.0f;
  q = q * z - 1.0f / 3.0f;
  q = q * z + 1.0f;
  vf small = 1.1283791670955126f * x * q;
  vf big = 1.0f - erfc;
  big = as_float(as_int(big) | (as_int(x) & (int32_t)0x80000000));
  vf r = vselect(ax < 0.5f, small, big);
  return vselect(x != x, x, r);
}

// atan(x), Cephes' atanf: |x| reduced to [0, tan(pi/8)] by atan(x) = pi/2 + atan(-1/x) above tan(3pi/8) and
// pi/4 + atan((x - 1) / (x + 1)) above tan(pi/8), then an odd degree-9 polynomial; sign restored. Within 2 ulp;
// +-inf give +-pi/2 (-1/inf = -0), NaN propagates (every comparison fails: no reduction, the polynomial keeps it).
DLCORE_ALWAYS_INLINE vf vatan(vf x) {
  const vf ax = vabs(x);
  const vi big = ax > 2.414213562373095f, mid = (ax > 0.4142135623730950f) & ~big;
  vf t = vselect(big, -1.0f / vselect(big, ax, vsplat(1.0f)), ax);
  t = vselect(mid, (ax - 1.0f) / (ax + 1.0f), t);
  const vf y0 = vselect(big, vsplat(1.57079632679489661923f),
                        vselect(mid, vsplat(0.78539816339744830962f), vsplat(0.0f)));
  const vf z = t * t;
  vf p = vsplat(8.05374449538e-2f);
  p = p * z - 1.38776856032e-1f;
  p = p * z + 1.99777106478e-1f;
  p = p * z - 3.33329491539e-1f;
  const vf r = y0 + (p * z * t + t);
  return as_float(as_int(r) ^ (as_int(x) & (int32_t)0x80000000));
}

// atan2(y, x) for finite nonzero operands: the angle of the smaller over the larger magnitude (in [0, pi/4]), moved
// to its octant (pi/2 - a when |y| > |x|, pi - a when x < 0), sign of y. A vector holding a zero, an infinity or
// a NaN takes libm's atan2 lane by lane (those carry the IEEE special cases: signed zeros, +-pi, +-pi/4 ...).
// Within 4 ulp (tests/test_math_extra.py).
DLCORE_ALWAYS_INLINE vf vatan2(vf y, vf x) {
  const vf ax = vabs(x), ay = vabs(y);
  const vi special = (ax == 0.0f) | (ay == 0.0f) | ~(ax < __builtin_inff()) | ~(ay < __builtin_inff());
  bool any = false;
  for (int i = 0; i < DLCORE_VLEN; ++i) any |= special[i] != 0;
  if (__builtin_expect(any, 0)) {
    vf r;
    for (int i = 0; i < DLCORE_VLEN; ++i) r[i] = __builtin_atan2f(y[i], x[i]);
    return r;
  }
  const vi steep = ay > ax;
  const vf a = vatan(vselect(steep, ax, ay) / vselect(steep, ay, ax));
  vf r = vselect(steep, 1.57079632679489661923f - a, a);
  r = vselect(x < 0.0f, 3.14159265358979323846f - r, r);
  return as_float(as_int(r) | (as_int(y) & (int32_t)0x80000000));
}

// sqrt by the ISA's instruction (correctly rounded).
DLCORE_ALWAYS_INLINE vf vsqrt(vf x) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  return (vf)_mm512_sqrt_ps((__m512)x);
#elif DLCORE_VLEN == 8 && defined(__AVX__)
  return (vf)_mm256_sqrt_ps((__m256)x);
#else
  vf r;
  for (int i = 0; i < DLCORE_VLEN; ++i) r[i] = __builtin_sqrtf(x[i]);
  return r;
#endif
}

// erfinv(y): Giles' single-precision polynomials in w = -log((1 - y)(1 + y)) (w < 5 and the tail in sqrt(w)).
// |y| = 1 gives +-inf, |y| > 1 and NaN give NaN. Within 3.5 ulp over 1M uniform samples in (-0.9999, 0.9999)
// (a Newton step on verf made it 4.2: verf's own error dominates); the scalar build keeps libm Newton steps.
DLCORE_ALWAYS_INLINE vf verfinv(vf y) {
  const vf ay = vabs(y);
  const vi inside = ay < 1.0f;
  const vf w0 = -vlog(vselect(inside, (1.0f - y) * (1.0f + y), vsplat(0.5f)));
  const vf wc = w0 - 2.5f;
  vf pc = vsplat(2.81022636e-08f);
  pc = pc * wc + 3.43273939e-07f;
  pc = pc * wc - 3.5233877e-06f;
  pc = pc * wc - 4.39150654e-06f;
  pc = pc * wc + 0.00021858087f;
  pc = pc * wc - 0.00125372503f;
  pc = pc * wc - 0.00417768164f;
  pc = pc * wc + 0.246640727f;
  pc = pc * wc + 1.50140941f;
  const vf wt = vsqrt(w0) - 3.0f;
  vf pt = vsplat(-0.000200214257f);
  pt = pt * wt + 0.000100950558f;
  pt = pt * wt + 0.00134934322f;
  pt = pt * wt - 0.00367342844f;
  pt = pt * wt + 0.00573950773f;
  pt = pt * wt - 0.0076224613f;
  pt = pt * wt + 0.00943887047f;
  pt = pt * wt + 1.00167406f;
  pt = pt * wt + 2.83297682f;
  vf a = vselect(w0 < 5.0f, pc, pt) * y;
  const vf inf = as_float(as_int(vsplat(__builtin_inff())) | (as_int(y) & (int32_t)0x80000000));
  a = vselect(ay == 1.0f, inf, a);
  return vselect(inside | (ay == 1.0f), a, vsplat(__builtin_nanf("")));  // (|y| > 1 and NaN)
}

// asin(s) for |s| <= 0.5 with z = s * s given: Cephes' asinf polynomial (relative error 2.5e-7).
DLCORE_ALWAYS_INLINE vf vasin_core(vf s, vf z) {
  vf p = vsplat(4.2163199048e-2f);
  p = p * z + 2.4181311049e-2f;
  p = p * z + 4.5470025998e-2f;
  p = p * z + 7.4953002686e-2f;
  p = p * z + 1.6666752422e-1f;
  return p * z * s + s;
}

// asin(x), Cephes' asinf: |x| > 1/2 by asin(a) = pi/2 - 2 asin(sqrt((1 - a) / 2)); sign restored. |x| > 1 gives
// NaN (sqrt of a negative), NaN propagates. Within 2 ulp.
DLCORE_ALWAYS_INLINE vf vasin(vf x) {
  const vf a = vabs(x);
  const vi big = a > 0.5f;
  const vf zb = 0.5f * (1.0f - a);
  const vf z = vselect(big, zb, a * a);
  const vf s = vselect(big, vsqrt(zb), a);
  const vf p = vasin_core(s, z);
  const vf r = vselect(big, 1.57079632679489661923f - (p + p), p);
  return as_float(as_int(r) ^ (as_int(x) & (int32_t)0x80000000));
}

// acos(x), Cephes' acosf: 2 asin(sqrt((1 - |x|) / 2)) above 1/2 (pi minus that for x < -1/2), pi/2 - asin(x)
// between. Within 2 ulp.
DLCORE_ALWAYS_INLINE vf vacos(vf x) {
  const vf a = vabs(x);
  const vi big = a > 0.5f;
  const vf zb = 0.5f * (1.0f - a);
  const vf z = vselect(big, zb, x * x);
  const vf s = vselect(big, vsqrt(zb), x);
  const vf p = vasin_core(s, z);
  const vf t = p + p;
  const vf rb = vselect(x < 0.0f, 3.14159265358979323846f - t, t);
  return vselect(big, rb, 1.57079632679489661923f - p);
}

// log(e^a + e^b) = max + log1p(e^-|a - b|) (base2: log2(2^a + 2^b) with 2^d = e^(d ln2)); equal infinities give
// themselves, NaN propagates.
template <bool kBase2>
DLCORE_ALWAYS_INLINE vf vlogaddexp(vf a, vf b) {
  const vf m = vselect(a != a, a, vselect(b > a, b, a));
  const vf d = -vabs(a - b);
  const vf e = vexp(kBase2 ? d * 0.693147180559945309f : d);
  vf l = vlog1p(e);
  if (kBase2) l = l * 1.44269504088896341f;
  const vf r = m + l;
  return vselect((a == b) & (vabs(a) == __builtin_inff()), a, r);
}

// e^a / 2 for a >= 0 without overflowing early: exp(a) / 2 directly below 88, else exp(a/2)^2 / 2 (sinh and cosh
// stay finite up to 89.4).
DLCORE_ALWAYS_INLINE vf vhalf_exp(vf a, vf& e) {
  const vf h = vexp(vmin(a, vsplat(100.0f)) * 0.5f);
  e = vexp(vmin(a, vsplat(88.0f)));
  return vselect(a > 88.0f, 0.5f * h * h, 0.5f * e);
}

// sinh(x): Cephes' sinhf, an odd polynomial for |x| <= 1, (e^|x| - e^-|x|) / 2 above; sign restored. Within 3 ulp.
DLCORE_ALWAYS_INLINE vf vsinh(vf x) {
  const vf ax = vabs(x);
  const vf z = x * x;
  vf p = vsplat(2.03721912945e-4f);
  p = p * z + 8.33028376239e-3f;
  p = p * z + 1.66667160211e-1f;
  const vf small = p * z * x + x;
  vf e;
  const vf he = vhalf_exp(ax, e);
  vf big = he - 0.5f / e;
  big = as_float(as_int(big) | (as_int(x) & (int32_t)0x80000000));
  const vf r = vselect(ax > 1.0f, big, small);
  return vselect(x != x, x, r);
}

// cosh(x) = (e^|x| + e^-|x|) / 2. Within 3 ulp.
DLCORE_ALWAYS_INLINE vf vcosh(vf x) {
  const vf ax = vabs(x);
  vf e;
  const vf he = vhalf_exp(ax, e);
  return vselect(x != x, x, he + 0.5f / e);
}

// fma(a, b, -c) with one rounding: the exact residual of a product (a * b - c written out would be contracted or
// not at the compiler's choice).
DLCORE_ALWAYS_INLINE vf vfmsub(vf a, vf b, vf c) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  return (vf)_mm512_fmsub_ps((__m512)a, (__m512)b, (__m512)c);
#elif DLCORE_VLEN == 8 && defined(__FMA__)
  return (vf)_mm256_fmsub_ps((__m256)a, (__m256)b, (__m256)c);
#else
  vf r;
  for (int i = 0; i < DLCORE_VLEN; ++i) r[i] = __builtin_fmaf(a[i], b[i], -c[i]);
  return r;
#endif
}

// The standard normal distribution at x: cdf = Phi(x) and ez = exp(-x^2/2) (the density times sqrt(2 pi)), for
// gelu and its gradient. Phi is not taken as (1 + erf(x/sqrt2))/2, which cancels for x < 0 (Phi(-4) = 3.2e-5 with
// an absolute error of 6e-8, a relative 2e-3), but from the upper tail Q(a) = Phi(-a), a = |x|, directly:
//   Q(a) = t exp(-a^2/2) P(t),   t = 1 / (1 + q a),   q = 0.3 / sqrt2,
// P a degree-8 polynomial fitted here (least squares with Lawson reweighting against mpmath's erfc, relative error
// 2e-8 of the fit for a <= 13.4, where Q underflows; P(0) = q / sqrt(2 pi), the asymptote). Phi = Q for x < 0,
// 1 - Q above. a^2 = hi + lo exactly (one FMA gives the residual lo), and lo enters exp's reduced argument, so the
// exponent is exact and Q keeps its relative accuracy out to the underflow: measured against mpmath, gelu's relative
// error <= 7e-7 on [-13.1, 13.5] (normal results). a = min(|x|, 16): inf gives Q = 0 (exp(-128) underflows without
// a clamp: vexp_reduced's reduction holds for n down to -185), and a NaN x gives a finite Q; callers multiply by x,
// which carries the NaN. About 38 instructions with one reciprocal, no division and no branch.
DLCORE_ALWAYS_INLINE void vnormal_cdf(vf x, vf& cdf, vf& ez) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  const vf a = (vf)_mm512_maskz_min_ps(0xffff, (__m512)vabs(x), _mm512_set1_ps(16.0f));  // (maskz: see vexp)
#else
  const vf a = vmin(vabs(x), vsplat(16.0f));
#endif
  const vf t = vrecip(1.0f + 0.212132034f * a);
  vf p = vsplat(-0.0647175089f);
  p = p * t + 0.242550492f;
  p = p * t + -0.255617902f;
  p = p * t + 0.273202848f;
  p = p * t + -0.0468192637f;
  p = p * t + 0.107219659f;
  p = p * t + 0.0742408389f;
  p = p * t + 0.0853460174f;
  p = p * t + 0.0845948047f;
  // exp(-(hi + lo)/2) = 2^n exp(r), r = -hi/2 - n ln2 - lo/2 (Cody-Waite in two steps, then the low part).
  const vf hi = a * a, lo = vfmsub(a, a, hi);
  const vf xe = hi * -0.5f;
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  const vf n = (vf)_mm512_maskz_roundscale_ps(0xffff, (__m512)(xe * 1.44269504088896341f),
                                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
  const vf n = vround(xe * 1.44269504088896341f);
#endif
  vf r = xe - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  r = r - lo * 0.5f;
  const vf e = vexp_poly(r);
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  ez = (vf)_mm512_maskz_scalef_ps(0xffff, (__m512)e, (__m512)n);
  const vf q = t * ez * p;
  cdf = (vf)_mm512_mask_blend_ps(_mm512_cmp_ps_mask((__m512)x, _mm512_setzero_ps(), _CMP_LT_OQ),
                                 (__m512)(1.0f - q), (__m512)q);
#else
  const vi ni = __builtin_convertvector(n, vi);  // in [-185, 0]: 2^n in two halves (each a normal float)
  const vi n1 = ni >> 1;
  ez = e * vpow2i(n1) * vpow2i(ni - n1);
  const vf q = t * ez * p;
  cdf = vselect(x < 0.0f, q, 1.0f - q);
#endif
}

// 2^x = 2^n 2^f, n = round(x), f = x - n exact in [-1/2, 1/2], 2^f = e^(f ln2) by vexp's polynomial: exact for
// integer x; overflow to inf, gradual underflow to 0, NaN kept.
DLCORE_ALWAYS_INLINE vf vexp2(vf x) {
  const vf xc = vmin(vsplat(129.0f), vmax(vsplat(-151.0f), x));  // (NaN kept)
  const vf n = vround(xc);
  const vf e = vexp_poly((xc - n) * 0.693147180559945309f);
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  return (vf)_mm512_maskz_scalef_ps(0xffff, (__m512)e, (__m512)n);
#else
  vi ni = __builtin_convertvector(n, vi);
  ni = ni & ~(vi)(x != x);
  return e * vpow2i(ni >> 1) * vpow2i(ni - (ni >> 1));
#endif
}

// Whether any lane of a compare mask is set.
DLCORE_ALWAYS_INLINE bool vany(vi m) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  return _mm512_test_epi32_mask((__m512i)m, (__m512i)m) != 0;
#else
  return !_mm256_testz_si256((__m256i)m, (__m256i)m);
#endif
}

// res with the lanes set in bad recomputed by the scalar fn(a_l, b_l) (a vector function's rare lanes outside its
// domain, handed to libm); res itself when no lane is set.
template <class F>
DLCORE_ALWAYS_INLINE vf redo_lanes(vi bad, vf res, vf a, vf b, const F& fn) {
  if (__builtin_expect(!vany(bad), 1)) return res;
  float as[kVLen], bs[kVLen], rs[kVLen];
  int32_t ms[kVLen];
  std::memcpy(as, &a, sizeof as);
  std::memcpy(bs, &b, sizeof bs);
  std::memcpy(rs, &res, sizeof rs);
  std::memcpy(ms, &bad, sizeof ms);
  for (int l = 0; l < kVLen; ++l)
    if (ms[l]) rs[l] = fn(as[l], bs[l]);
  std::memcpy(&res, rs, sizeof rs);
  return res;
}

// floor / ceil / trunc by the rounding instruction with exceptions suppressed (std::floor stays a libm call per
// element here: GCC inlines it only without trapping math).
template <int MODE>
DLCORE_ALWAYS_INLINE vf vround_mode(vf x) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  return (vf)_mm512_maskz_roundscale_ps(0xffff, (__m512)x, MODE | _MM_FROUND_NO_EXC);
#else
  return (vf)_mm256_round_ps((__m256)x, MODE | _MM_FROUND_NO_EXC);
#endif
}
DLCORE_ALWAYS_INLINE vf vfloor(vf x) { return vround_mode<_MM_FROUND_TO_NEG_INF>(x); }
DLCORE_ALWAYS_INLINE vf vceil(vf x) { return vround_mode<_MM_FROUND_TO_POS_INF>(x); }
DLCORE_ALWAYS_INLINE vf vtrunc(vf x) { return vround_mode<_MM_FROUND_TO_ZERO>(x); }

// sin and cos (Cephes' sinf/cosf): |x| reduced by multiples of pi/2 in three parts (exact enough up to |x| = 8192),
// the quadrant choosing the sine or cosine polynomial and the sign. Lanes beyond 8192 or not finite are redone by
// libm (rare; inf and NaN give NaN there).
template <bool COS>
DLCORE_ALWAYS_INLINE vf vsincos(vf x) {
  const vf ax = vabs(x);
  vi j = __builtin_convertvector(vmin(ax, vsplat(8192.0f)) * 1.27323954473516f, vi);  // |x| 4/pi
  j = (j + 1) & ~1;
  const vf y = __builtin_convertvector(j, vf);
  const vf r = ((ax - y * 0.78515625f) - y * 2.4187564849853515625e-4f) - y * 3.77489497744594108e-8f;
  const vf z = r * r;
  const vf ps = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r + r;
  const vf pc = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z -
                0.5f * z + 1.0f;
  const vi q = (j >> 1) & 3;
  vi use_cos, neg;
  if constexpr (COS) {
    use_cos = (q & 1) == 0;
    neg = ((q + 1) & 2) != 0;
  } else {
    use_cos = (q & 1) != 0;
    neg = ((q & 2) != 0) ^ (as_int(x) < 0);  // (the sign bit: sin(-0) = -0)
  }
  vf res = as_float(as_int(vselect(use_cos, pc, ps)) ^ (neg & (int32_t)0x80000000));
  return redo_lanes(~(ax <= 8192.0f), res, x, x, [](float v, float) { return COS ? std::cos(v) : std::sin(v); });
}

// tan (Cephes' tanf polynomial): |x| reduced by multiples of pi/4 rounded to even, in double (x - j pi/4 by one
// fused multiply-add against pi/4's leading double, then its tail): next to a pole the reduced value is tiny and
// tan ~ 1/r keeps the relative error of r, which vsincos's float reduction (~1e-11 absolute at 8192) turned into
// 2.6e-6 there. tan(r) = r + r^3 P(r^2) on [-pi/4, pi/4], -1 / tan(r) in the odd quadrants; sign restored. Lanes
// beyond 8192 or not finite are redone by libm.
DLCORE_ALWAYS_INLINE vf vtan(vf x) {
  typedef double vd __attribute__((vector_size(DLCORE_VLEN * 8)));
  const vf ax = vabs(x);
  vi j = __builtin_convertvector(vmin(ax, vsplat(8192.0f)) * 1.27323954473516f, vi);  // |x| 4/pi
  j = (j + 1) & ~1;
  const vd yd = __builtin_convertvector(j, vd);
  const vd rd = (__builtin_convertvector(ax, vd) - yd * 0.78539816339744827900) - yd * 3.0616169978683830e-17;
  const vf r = __builtin_convertvector(rd, vf);
  const vf z = r * r;
  vf p = vsplat(9.38540185543e-3f);
  p = p * z + 3.11992232697e-3f;
  p = p * z + 2.44301354525e-2f;
  p = p * z + 5.34112807005e-2f;
  p = p * z + 1.33387994085e-1f;
  p = p * z + 3.33331568548e-1f;
  p = p * z * r + r;
  p = vselect((j & 2) != 0, -1.0f / p, p);
  const vf res = as_float(as_int(p) ^ (as_int(x) & (int32_t)0x80000000));
  return redo_lanes(~(ax <= 8192.0f), res, x, x, [](float v, float) { return std::tan(v); });
}

// hypot(a, b) = sqrt(a^2 + b^2) in double (no overflow or underflow for float operands; one rounding to float at
// the end, so within half an ulp but for double rounding); lanes with an infinite or NaN operand by libm (inf wins
// over NaN there).
DLCORE_ALWAYS_INLINE vf vhypot(vf a, vf b) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  auto half = [](__m256 x, __m256 y) {
    const __m512d xd = _mm512_cvtps_pd(x), yd = _mm512_cvtps_pd(y);
    return _mm512_cvtpd_ps(_mm512_sqrt_pd(_mm512_fmadd_pd(xd, xd, _mm512_mul_pd(yd, yd))));
  };
  const __m512 av = (__m512)a, bv = (__m512)b;
  const __m256 lo = half(_mm512_castps512_ps256(av), _mm512_castps512_ps256(bv));
  const __m256 hi = half(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(av), 1)),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(bv), 1)));
  const vf res = (vf)_mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
#else
  auto half = [](__m128 x, __m128 y) {
    const __m256d xd = _mm256_cvtps_pd(x), yd = _mm256_cvtps_pd(y);
    return _mm256_cvtpd_ps(_mm256_sqrt_pd(_mm256_fmadd_pd(xd, xd, _mm256_mul_pd(yd, yd))));
  };
  const __m256 av = (__m256)a, bv = (__m256)b;
  const vf res = (vf)_mm256_set_m128(half(_mm256_extractf128_ps(av, 1), _mm256_extractf128_ps(bv, 1)),
                                     half(_mm256_castps256_ps128(av), _mm256_castps256_ps128(bv)));
#endif
  const float inf = __builtin_inff();
  return redo_lanes(~((vabs(a) < inf) & (vabs(b) < inf)), res, a, b, [](float x, float y) { return std::hypot(x, y); });
}

// atanh(x) = log1p(2x / (1 - x)) / 2: relative accuracy near 0 from log1p; +-1 -> +-inf, beyond -> NaN.
DLCORE_ALWAYS_INLINE vf vatanh(vf x) {
  const vf ax = vabs(x);
  const vf r = 0.5f * vlog1p((ax + ax) / (1.0f - ax));
  return as_float(as_int(vselect(ax == 1.0f, vsplat(__builtin_inff()), r)) | (as_int(x) & (int32_t)0x80000000));
}

#if DLCORE_VLEN == 16 && defined(__AVX512F__)
#define DLCORE_HAVE_VPOW 1
// x^e for float32 x > 0 (finite) and a finite scalar e, in double: log(x) = k ln2 + log(m), m in [0.75, 1.5) by
// vgetmantpd/vgetexppd, log(m) = 2 atanh(s), s = (m - 1) / (m + 1) (|s| <= 0.2, odd series to s^13: 1e-10), then
// exp(e log x) by n ln2 + r (|r| <= ln2/2, Taylor to r^10: 2e-13) and vscalefpd, rounded to float once: within
// one ulp of the true power (powf). Lanes outside the domain (x <= 0, inf, NaN) are redone by std::pow.
DLCORE_ALWAYS_INLINE __m512d vpow_pd(__m512d x, __m512d e) {
  constexpr __mmask8 all = 0xff;
  const __m512d m = _mm512_maskz_getmant_pd(all, x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
  __m512d k = _mm512_maskz_getexp_pd(all, x);
  k = _mm512_mask_add_pd(k, _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.0), _CMP_LT_OQ), k, _mm512_set1_pd(1.0));
  const __m512d s = _mm512_div_pd(_mm512_sub_pd(m, _mm512_set1_pd(1.0)), _mm512_add_pd(m, _mm512_set1_pd(1.0)));
  const __m512d z = _mm512_mul_pd(s, s);
  __m512d p = _mm512_set1_pd(2.0 / 13);
  p = _mm512_fmadd_pd(p, z, _mm512_set1_pd(2.0 / 11));
  p = _mm512_fmadd_pd(p, z, _mm512_set1_pd(2.0 / 9));
  p = _mm512_fmadd_pd(p, z, _mm512_set1_pd(2.0 / 7));
  p = _mm512_fmadd_pd(p, z, _mm512_set1_pd(2.0 / 5));
  p = _mm512_fmadd_pd(p, z, _mm512_set1_pd(2.0 / 3));
  p = _mm512_fmadd_pd(p, z, _mm512_set1_pd(2.0));
  const __m512d logm = _mm512_mul_pd(p, s);
  const __m512d lx = _mm512_fmadd_pd(k, _mm512_set1_pd(0.69314718055994530942), logm);
  __m512d t = _mm512_mul_pd(lx, e);
  t = _mm512_maskz_min_pd(all, _mm512_set1_pd(800.0), _mm512_maskz_max_pd(all, _mm512_set1_pd(-800.0), t));
  const __m512d n = _mm512_maskz_roundscale_pd(all, _mm512_mul_pd(t, _mm512_set1_pd(1.4426950408889634074)),
                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), t);  // ln2 hi (fdlibm)
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);         // ln2 lo
  __m512d q = _mm512_set1_pd(1.0 / 3628800);
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 362880));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 40320));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 5040));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 720));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 120));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 24));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 6));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.5));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0));
  return _mm512_maskz_scalef_pd(all, q, n);
}
DLCORE_ALWAYS_INLINE __m512d vlow_pd(vf v) { return _mm512_cvtps_pd(_mm512_castps512_ps256((__m512)v)); }
DLCORE_ALWAYS_INLINE __m512d vhigh_pd(vf v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd((__m512)v), 1)));
}
// x^e lane by lane (e a vector: torch.pow(tensor, tensor)); lanes with x <= 0, x or e not finite by std::pow.
DLCORE_ALWAYS_INLINE vf vpowf(vf x, vf e) {
  const __m512d lo = vpow_pd(vlow_pd(x), vlow_pd(e)), hi = vpow_pd(vhigh_pd(x), vhigh_pd(e));
  vf res = (vf)_mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
  return redo_lanes(~((x > 0.0f) & (x < __builtin_inff()) & (vabs(e) < __builtin_inff())), res, x, e,  // (NaN too)
                    [](float v, float w) { return std::pow(v, w); });
}
DLCORE_ALWAYS_INLINE vf vpowf(vf x, float e) { return vpowf(x, vsplat(e)); }
#endif

}  // namespace dlcore::DLCORE_ISA_NS
