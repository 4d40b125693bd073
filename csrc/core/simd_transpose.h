// The 8 x 8 float transpose in AVX registers (three shuffle stages), for ISA translation units only (files compiled
// with AVX2 or AVX-512 flags). In an anonymous namespace: each translation unit keeps its own copy, so code compiled
// with different -m flags is never merged by the linker. Used by the GEMM's transposing pack (gemm_simd.h), the
// recurrent layout changes (recurrent_loops.h) and the direct convolution's gy transpose (conv_direct_impl.inc).
#pragma once
#include "core/x86_intrin.h"

#include <cstdint>

namespace dlcore {
namespace {

// 8 lines of 8 floats -> 8 rows of 8 floats, in place in the registers.
inline void transpose8x8(__m256& r0, __m256& r1, __m256& r2, __m256& r3, __m256& r4, __m256& r5, __m256& r6,
                         __m256& r7) {
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r0 = _mm256_permute2f128_ps(s0, s4, 0x20);
  r1 = _mm256_permute2f128_ps(s1, s5, 0x20);
  r2 = _mm256_permute2f128_ps(s2, s6, 0x20);
  r3 = _mm256_permute2f128_ps(s3, s7, 0x20);
  r4 = _mm256_permute2f128_ps(s0, s4, 0x31);
  r5 = _mm256_permute2f128_ps(s1, s5, 0x31);
  r6 = _mm256_permute2f128_ps(s2, s6, 0x31);
  r7 = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// dst[j * ds + i] = src[i * ss + j] for i, j < 8.
inline void transpose8x8(const float* src, int64_t ss, float* dst, int64_t ds) {
  __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ss), r2 = _mm256_loadu_ps(src + 2 * ss),
         r3 = _mm256_loadu_ps(src + 3 * ss), r4 = _mm256_loadu_ps(src + 4 * ss), r5 = _mm256_loadu_ps(src + 5 * ss),
         r6 = _mm256_loadu_ps(src + 6 * ss), r7 = _mm256_loadu_ps(src + 7 * ss);
  transpose8x8(r0, r1, r2, r3, r4, r5, r6, r7);
  _mm256_storeu_ps(dst, r0);
  _mm256_storeu_ps(dst + ds, r1);
  _mm256_storeu_ps(dst + 2 * ds, r2);
  _mm256_storeu_ps(dst + 3 * ds, r3);
  _mm256_storeu_ps(dst + 4 * ds, r4);
  _mm256_storeu_ps(dst + 5 * ds, r5);
  _mm256_storeu_ps(dst + 6 * ds, r6);
  _mm256_storeu_ps(dst + 7 * ds, r7);
}

#ifdef __AVX512F__
// r[0..15] (16 x 16 32-bit elements) -> its transpose, in registers: pairs of rows interleaved (epi32, then
// epi64: u[4i + j]'s 128-bit lane L holds column 4L + j of rows 4i..4i+3), then the lanes gathered across
// registers (two rounds of shuffle_i32x4).
inline __attribute__((always_inline)) void transpose16x16(__m512i r[16]) {
  __m512i t[16], u[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xdd);
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88);
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xdd);
    r[j] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    r[j + 8] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
    r[j + 4] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    r[j + 12] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
  }
}

// dst[j * ds + i] = src[i * ss + j] for i < nr, j < nc (nr, nc <= 16; the rest untouched): whole 64-byte lines
// read and written when nr = nc = 16. Stream: non-temporal stores (dst rows 64-byte aligned, nr == 16).
template <bool Stream = false>
inline __attribute__((always_inline)) void transpose16x16(const float* src, int64_t ss, int nr, int nc, float* dst,
                                                          int64_t ds) {
  __m512i r[16];
  if (nr == 16 && nc == 16) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_si512(src + i * ss);
  } else {
    const __mmask16 cm = (__mmask16)((1u << nc) - 1);
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) r[i] = i < nr ? _mm512_maskz_loadu_epi32(cm, src + i * ss) : _mm512_setzero_si512();
  }
  transpose16x16(r);
  if (nr == 16 && nc == 16) {
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) {
      if constexpr (Stream) _mm512_stream_si512(reinterpret_cast<__m512i*>(dst + j * ds), r[j]);
      else _mm512_storeu_si512(dst + j * ds, r[j]);
    }
  } else {
    const __mmask16 rm = (__mmask16)((1u << nr) - 1);
    for (int j = 0; j < nc; ++j) _mm512_mask_storeu_epi32(dst + j * ds, rm, r[j]);
  }
}
#endif

}  // namespace
}  // namespace dlcore
