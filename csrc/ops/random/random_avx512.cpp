// float32 standard-normal tensors on AVX-512 (compiled with the avx512 flags; chosen at run time by random_cpu.cpp):
// the same Box-Muller pairs as random.h's scalar path (and the CUDA kernels) - Philox block b's words give
// u1 = 1 - uniform_double(w0, w1) in (0, 1] and u2 = uniform_double(w2, w3), z0 = r cos(2 pi u2), z1 = r sin(2 pi u2)
// with r = sqrt(-2 log u1), in double, then mean + std z rounded to float32 - with log, sin and cos computed 8 lanes
// at a time by fdlibm's algorithms (e_log.c, k_sin.c, k_cos.c: within 1 ulp in double) instead of libm calls per pair.
// A double within 1 ulp of libm's rounds to the same float32 unless it lies within ~2 ulp of a float32 rounding
// boundary (probability ~4e-9 per element): the values are the scalar path's, bit for bit, but for such rare
// elements, which differ by one float32 ulp (the test counts them). The final mean + std * z is rounded as two
// operations (the *_round_pd forms, which the compiler does not contract into an FMA), as affine_no_fma is.
#include "core/x86_intrin.h"

#include <cstdint>
#include <initializer_list>

#include "ops/random/philox_avx512.h"
#include "ops/random/random.h"

namespace dlcore::avx512 {

namespace {

constexpr int kRnd = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

DLCORE_ALWAYS_INLINE __m512d set1(double v) { return _mm512_set1_pd(v); }
DLCORE_ALWAYS_INLINE __m512d mul(__m512d a, __m512d b) { return _mm512_mul_round_pd(a, b, kRnd); }
DLCORE_ALWAYS_INLINE __m512d add(__m512d a, __m512d b) { return _mm512_add_round_pd(a, b, kRnd); }
DLCORE_ALWAYS_INLINE __m512d sub(__m512d a, __m512d b) { return _mm512_sub_round_pd(a, b, kRnd); }

// log(x) for normal x > 0 (here x in [2^-53, 1]): x = 2^k (1 + f), sqrt(1/2) < 1 + f <= sqrt(2); s = f / (2 + f),
// log(1 + f) = f - (f^2/2 - s (f^2/2 + R(s^2))) with fdlibm's degree-14 R (Lg1..Lg7).
DLCORE_ALWAYS_INLINE __m512d vlog(__m512d x) {
  __m512d m = _mm512_getmant_pd(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);  // [1, 2)
  __m512d k = _mm512_getexp_pd(x);                                          // floor(log2 x)
  const __mmask8 big = _mm512_cmp_pd_mask(m, set1(1.41421356237309504880), _CMP_GT_OQ);
  m = _mm512_mask_mul_pd(m, big, m, set1(0.5));
  k = _mm512_mask_add_pd(k, big, k, set1(1.0));
  const __m512d f = sub(m, set1(1.0));
  const __m512d s = _mm512_div_pd(f, add(set1(2.0), f));
  const __m512d z = mul(s, s), w = mul(z, z);
  const __m512d t1 = mul(w, add(set1(3.999999999940941908e-01),
                                mul(w, add(set1(2.222219843214978396e-01), mul(w, set1(1.531383769920937332e-01))))));
  const __m512d t2 = mul(
      z, add(set1(6.666666666666735130e-01),
             mul(w, add(set1(2.857142874366239149e-01),
                        mul(w, add(set1(1.818357216161805012e-01), mul(w, set1(1.479819860511658591e-01))))))));
  const __m512d R = add(t2, t1);
  const __m512d hfsq = mul(set1(0.5), mul(f, f));
  const __m512d ln2_hi = set1(6.93147180369123816490e-01), ln2_lo = set1(1.90821492927058770002e-10);
  // k ln2_hi - ((hfsq - (s (hfsq + R) + k ln2_lo)) - f)
  return sub(mul(k, ln2_hi), sub(sub(hfsq, add(mul(s, add(hfsq, R)), mul(k, ln2_lo))), f));
}

// sin and cos of t in [0, 2 pi): y = t - n pi/2 (n = round(t 2/pi) <= 4; pi/2 in three parts of 33 bits, so each
// n * part is exact), then fdlibm's kernels on |y| <= pi/4 and the quadrant's swap and signs.
DLCORE_ALWAYS_INLINE void vsincos(__m512d t, __m512d& sn, __m512d& cs) {
  const __m512d n = _mm512_roundscale_pd(mul(t, set1(6.36619772367581382433e-01)), kRnd);
  __m512d y = sub(t, mul(n, set1(1.57079632673412561417e+00)));
  y = sub(y, mul(n, set1(6.07710050630396597660e-11)));
  y = sub(y, mul(n, set1(2.02226624871116645580e-21)));
  const __m512d z = mul(y, y);
  // sin: y + y z (S1 + z (S2 + z (S3 + z (S4 + z (S5 + z S6)))))
  // (Horner steps: p = c_k + z p)
  auto horner = [&](std::initializer_list<double> c) {
    const double* e = c.end();
    __m512d p = set1(*--e);
    while (e != c.begin()) p = add(set1(*--e), mul(z, p));
    return p;
  };
  const __m512d r_s = horner({8.33333333332248946124e-03, -1.98412698298579493134e-04, 2.75573137070700676789e-06,
                              -2.50507602534068634195e-08, 1.58969099521155010221e-10});
  const __m512d s = add(y, mul(mul(z, y), add(set1(-1.66666666666666324348e-01), mul(z, r_s))));
  // cos: w + (((1 - w) - z/2) + z r), w = 1 - z/2, r = z (C1 + z (C2 + ... + z C6))
  const __m512d r_c = mul(z, horner({4.16666666666666019037e-02, -1.38888888888741095749e-03,
                                     2.48015872894767294178e-05, -2.75573143513906633035e-07,
                                     2.08757232129817482790e-09, -1.13596475577881948265e-11}));
  const __m512d hz = mul(set1(0.5), z), w = sub(set1(1.0), hz);
  const __m512d c = add(w, add(sub(sub(set1(1.0), w), hz), mul(z, r_c)));
  const __m512i q = _mm512_cvtpd_epi64(n);  // 0..4 (exact)
  const __mmask8 swap = _mm512_test_epi64_mask(q, _mm512_set1_epi64(1));
  const __mmask8 neg_s = _mm512_test_epi64_mask(q, _mm512_set1_epi64(2));                              // q = 2, 3
  const __mmask8 neg_c = _mm512_test_epi64_mask(_mm512_add_epi64(q, _mm512_set1_epi64(1)), _mm512_set1_epi64(2));  // 1, 2
  const __m512d sv = _mm512_mask_blend_pd(swap, s, c), cv = _mm512_mask_blend_pd(swap, c, s);
  const __m512d sign = set1(-0.0);
  sn = _mm512_mask_xor_pd(sv, neg_s, sv, sign);
  cs = _mm512_mask_xor_pd(cv, neg_c, cv, sign);
}

// uniform_double(w0, w1) of 8 blocks (the 64-bit lanes of two words widened from 32 bits).
DLCORE_ALWAYS_INLINE __m512d uniform_d(__m256i w0, __m256i w1) {
  const __m512i a = _mm512_cvtepu32_epi64(w0), b = _mm512_cvtepu32_epi64(w1);
  __m512i v = _mm512_xor_si512(_mm512_slli_epi64(a, 21), _mm512_srli_epi64(b, 11));
  v = _mm512_and_si512(v, _mm512_set1_epi64((1ll << 53) - 1));
  return mul(_mm512_cvtepi64_pd(v), set1(1.0 / 9007199254740992.0));
}

// 8 blocks' pairs -> 16 floats in element order (z0 of block j at 2j, z1 at 2j + 1).
DLCORE_ALWAYS_INLINE void normal8(float* out, __m256i w0, __m256i w1, __m256i w2, __m256i w3, __m512d mean,
                                  __m512d sd) {
  const __m512d u1 = sub(set1(1.0), uniform_d(w0, w1)), u2 = uniform_d(w2, w3);
  const __m512d r = _mm512_sqrt_pd(mul(set1(-2.0), vlog(u1)));
  __m512d sn, cs;
  vsincos(mul(set1(6.283185307179586), u2), sn, cs);
  const __m256 z0 = _mm512_cvtpd_ps(add(mean, mul(sd, mul(r, cs))));
  const __m256 z1 = _mm512_cvtpd_ps(add(mean, mul(sd, mul(r, sn))));
  const __m512 both = _mm512_insertf32x8(_mm512_castps256_ps512(z0), z1, 1);
  const __m512i inter = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  _mm512_storeu_ps(out, _mm512_permutexvar_ps(inter, both));
}

}  // namespace

// 64 * groups float32 normals (mean + std z) for the blocks first_block .. first_block + 32 groups - 1 (two elements
// per block) under key seed, into out.
void normal_f32_groups(float* out, uint64_t first_block, int64_t groups, uint64_t seed, double mean, double std) {
  const __m512d m = set1(mean), sd = set1(std);
  const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int64_t g = 0; g < groups; ++g) {
    __m512i c0[2], c1[2], c2[2], c3[2];
    avx512_philox::philox16_words<2>(first_block + 32 * (uint64_t)g, k0, k1, c0, c1, c2, c3);
    float* o = out + 64 * g;
    for (int q = 0; q < 2; ++q) {
      normal8(o + 32 * q, _mm512_castsi512_si256(c0[q]), _mm512_castsi512_si256(c1[q]),
              _mm512_castsi512_si256(c2[q]), _mm512_castsi512_si256(c3[q]), m, sd);
      normal8(o + 32 * q + 16, _mm512_extracti64x4_epi64(c0[q], 1), _mm512_extracti64x4_epi64(c1[q], 1),
              _mm512_extracti64x4_epi64(c2[q], 1), _mm512_extracti64x4_epi64(c3[q], 1), m, sd);
    }
  }
}

// 256 * groups float32 uniforms lo + d u, u = uniform_float(word) (element i: word i % 4 of block first_block + i / 4),
// rounded from double as random_from_block does, for blocks first_block .. first_block + 64 groups - 1.
void uniform_f32_groups(float* out, uint64_t first_block, int64_t groups, uint64_t seed, double lo, double d) {
  const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  const __m512d vlo = set1(lo), vd = set1(d);
  alignas(64) uint32_t words[256];
  for (int64_t g = 0; g < groups; ++g) {
    avx512_philox::philox16_elements<4>(first_block + 64 * (uint64_t)g, k0, k1, words);
    float* o = out + 256 * g;
    for (int j = 0; j < 256; j += 16) {
      const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(_mm512_load_si512(words + j), 8)),
                                     _mm512_set1_ps(1.0f / 16777216.0f));  // exact: 24-bit integers times 2^-24
      const __m256 v0 = _mm512_cvtpd_ps(add(vlo, mul(vd, _mm512_cvtps_pd(_mm512_castps512_ps256(u)))));
      const __m256 v1 = _mm512_cvtpd_ps(add(vlo, mul(vd, _mm512_cvtps_pd(_mm512_extractf32x8_ps(u, 1)))));
      _mm512_storeu_ps(o + j, _mm512_insertf32x8(_mm512_castps256_ps512(v0), v1, 1));
    }
  }
}

// float64 uniforms lo + d u of 64 blocks (128 elements) per group, u = uniform_double(w0, w1) of each element's two
// words: v = (w0 << 21) ^ (w1 >> 11) from the pair as one 64-bit lane, its 53 bits exact as a double times 2^-53, the
// affine rounded as two operations (affine_no_fma): the scalar path's values. 100000 doubles (randperm's keys),
// 1 thread: 915 -> ~60 us.
void uniform_f64_groups(double* out, uint64_t first_block, int64_t groups, uint64_t seed, double lo, double d) {
  const uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  const __m512d vlo = set1(lo), vd = set1(d);
  const __m512i lo32 = _mm512_set1_epi64(0xffffffffll), m53 = _mm512_set1_epi64((1ll << 53) - 1);
  alignas(64) uint32_t words[256];
  for (int64_t g = 0; g < groups; ++g) {
    avx512_philox::philox16_elements<4>(first_block + 64 * (uint64_t)g, k0, k1, words);
    double* o = out + 128 * g;
    for (int j = 0; j < 128; j += 8) {
      const __m512i L = _mm512_load_si512(words + 2 * j);  // lanes: w0 | w1 << 32 of elements j .. j+7
      const __m512i v = _mm512_and_si512(
          _mm512_xor_si512(_mm512_slli_epi64(_mm512_and_si512(L, lo32), 21), _mm512_srli_epi64(L, 43)), m53);
      const __m512d u = _mm512_mul_pd(_mm512_cvtepu64_pd(v), set1(1.0 / 9007199254740992.0));
      _mm512_storeu_pd(o + j, add(vlo, mul(vd, u)));
    }
  }
}

}  // namespace dlcore::avx512
