// Philox4x32-10 (ops/random/philox.h) on 16-lane AVX-512 vectors: the rounds shared by the dropout mask and the
// vector normal generator. Include only from files compiled with AVX-512 flags (inside namespace
// dlcore::avx512 via the includer's DLCORE_ISA_NS, or directly).
#pragma once
#include "core/x86_intrin.h"

#include <cstdint>

#include "core/common.h"

namespace dlcore::avx512_philox {

// 32 x 32 -> 64-bit products of the 16 lanes of c with m: the low and high halves, lane by lane. vpmuludq multiplies
// the even lanes (the odd ones are swapped down by a vpshufd for a second one) and one vpermt2d per half gathers
// the halves from the two products. 512-bit shifts and multiplies share port 0 on Intel cores; the shuffles run on
// port 5, so this form keeps both ports busy (with shifts and blends instead the rounds ran ~1.6x slower).
DLCORE_ALWAYS_INLINE __m512i mulhilo16(__m512i c, __m512i m, __m512i& hi) {
  const __m512i pe = _mm512_mul_epu32(c, m), po = _mm512_mul_epu32(_mm512_shuffle_epi32(c, _MM_PERM_CDAB), m);
  const __m512i idx_lo = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
  hi = _mm512_permutex2var_epi32(pe, _mm512_add_epi32(idx_lo, _mm512_set1_epi32(1)), po);
  return _mm512_permutex2var_epi32(pe, idx_lo, po);
}
// The 4 words of NS x 16 consecutive Philox blocks (counters ctr0 .. ctr0 + 16 NS - 1, subsequence 0, key (k0, k1)):
// cw[q] holds word w of blocks ctr0 + 16 q + lane. The NS states' rounds are interleaved: one state's round is a
// chain of multiply, permute and xor latencies, and one state at a time left the core waiting on it ([64,20,24,24]
// dropout forward, 1 thread, Zen 5: 308-315 us with NS = 1, 253-262 with 2, 192-199 with 4). (Shifts and blends
// instead of the permutes in mulhilo16: the same time on Zen 5.)
template <int NS>
DLCORE_ALWAYS_INLINE void philox16_words(uint64_t ctr0, uint32_t k0, uint32_t k1, __m512i* c0, __m512i* c1,
                                         __m512i* c2, __m512i* c3) {
  for (int q = 0; q < NS; ++q) {
    const uint64_t base = ctr0 + 16 * (uint64_t)q;
    const __m512i lo = _mm512_set1_epi32((int)(uint32_t)base);
    c0[q] = _mm512_add_epi32(lo, _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m512i hi = _mm512_set1_epi32((int)(uint32_t)(base >> 32));
    c1[q] = _mm512_mask_add_epi32(hi, _mm512_cmplt_epu32_mask(c0[q], lo), hi, _mm512_set1_epi32(1));  // carry
    c2[q] = _mm512_setzero_si512(), c3[q] = _mm512_setzero_si512();
  }
  const __m512i M0 = _mm512_set1_epi64(0xD2511F53u), M1 = _mm512_set1_epi64(0xCD9E8D57u);
  for (int r = 0; r < 10; ++r) {
    const __m512i K0 = _mm512_set1_epi32((int)k0), K1 = _mm512_set1_epi32((int)k1);
    for (int q = 0; q < NS; ++q) {
      __m512i hi0, hi1;
      const __m512i lo0 = mulhilo16(c0[q], M0, hi0), lo1 = mulhilo16(c2[q], M1, hi1);
      c0[q] = _mm512_ternarylogic_epi32(hi1, c1[q], K0, 0x96);  // hi1 ^ c1 ^ k0
      c2[q] = _mm512_ternarylogic_epi32(hi0, c3[q], K1, 0x96);  // hi0 ^ c3 ^ k1
      c1[q] = lo1;
      c3[q] = lo0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

// The words of NS x 16 consecutive Philox blocks (philox16_words) written in element order (block b's words at
// out[4b .. 4b+3]): per state 4 x 16 words transposed by 8 unpacks and 8 128-bit lane shuffles.
template <int NS>
DLCORE_ALWAYS_INLINE void philox16_elements(uint64_t ctr0, uint32_t k0, uint32_t k1, uint32_t* out /* [NS * 16][4] */) {
  __m512i c0[NS], c1[NS], c2[NS], c3[NS];
  philox16_words<NS>(ctr0, k0, k1, c0, c1, c2, c3);
  for (int q = 0; q < NS; ++q) {
    // 128-bit lane l of u_j holds block 4l + j (its words 0..3); element vector v_l = blocks 4l .. 4l+3.
    const __m512i t0 = _mm512_unpacklo_epi32(c0[q], c1[q]), t1 = _mm512_unpackhi_epi32(c0[q], c1[q]);
    const __m512i t2 = _mm512_unpacklo_epi32(c2[q], c3[q]), t3 = _mm512_unpackhi_epi32(c2[q], c3[q]);
    const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
    const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
    const __m512i a0 = _mm512_shuffle_i32x4(u0, u1, 0x44), a1 = _mm512_shuffle_i32x4(u2, u3, 0x44);
    const __m512i a2 = _mm512_shuffle_i32x4(u0, u1, 0xEE), a3 = _mm512_shuffle_i32x4(u2, u3, 0xEE);
    uint32_t* o = out + 64 * q;
    _mm512_storeu_si512(o, _mm512_shuffle_i32x4(a0, a1, 0x88));
    _mm512_storeu_si512(o + 16, _mm512_shuffle_i32x4(a0, a1, 0xDD));
    _mm512_storeu_si512(o + 32, _mm512_shuffle_i32x4(a2, a3, 0x88));
    _mm512_storeu_si512(o + 48, _mm512_shuffle_i32x4(a2, a3, 0xDD));
  }
}

}  // namespace dlcore::avx512_philox
