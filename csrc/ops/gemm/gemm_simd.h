// SIMD microkernels and packing routines shared by gemm_avx2.cpp and gemm_avx512.cpp, written once over a small
// vector-traits class V (V256f/V256d for AVX2+FMA, V512f/V512d for AVX-512). Included only by those files, each
// compiled with its own -m flags; everything is in an anonymous namespace (no cross-ISA ODR merging).
//
// The microkernel (contract in gemm_kernel.h): an M x (NV*VL) block of accumulators lives in vector registers; per
// k step it loads NV vectors of the B micro-panel row and, for each of the M rows, broadcasts one A value and does
// NV fused multiply-adds (outer-product / rank-1 update). The accumulators are stored once at the end, with
// alpha, beta, the bias and ReLU applied on the way (masked loads/stores for the last, partial vector).
#pragma once
#include "core/x86_intrin.h"

#include <algorithm>
#include <cstdint>

#include "core/simd_transpose.h"
#include "ops/gemm/gemm_driver.h"

namespace dlcore {
namespace gemm_detail {
namespace {

struct V256f {
  using T = float;
  using R = __m256;
  using Half = V256f;  // no narrower tail vector in the AVX2 kernels
  static constexpr int L = 8;
  static R lo(R v) { return v; }
  static R zero() { return _mm256_setzero_ps(); }
  static R set1(T x) { return _mm256_set1_ps(x); }
  static R loadu(const T* p) { return _mm256_loadu_ps(p); }
  static void storeu(T* p, R v) { _mm256_storeu_ps(p, v); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static R load_n(const T* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void store_n(T* p, R v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
};
struct V256d {
  using T = double;
  using R = __m256d;
  using Half = V256d;
  static constexpr int L = 4;
  static R lo(R v) { return v; }
  static R zero() { return _mm256_setzero_pd(); }
  static R set1(T x) { return _mm256_set1_pd(x); }
  static R loadu(const T* p) { return _mm256_loadu_pd(p); }
  static void storeu(T* p, R v) { _mm256_storeu_pd(p, v); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
  static R mul(R a, R b) { return _mm256_mul_pd(a, b); }
  static R add(R a, R b) { return _mm256_add_pd(a, b); }
  static R max(R a, R b) { return _mm256_max_pd(a, b); }
  static __m256i mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static R load_n(const T* p, int n) { return _mm256_maskload_pd(p, mask(n)); }
  static void store_n(T* p, R v, int n) { _mm256_maskstore_pd(p, mask(n), v); }
};

#if defined(__AVX512F__)
// 256-bit vectors with AVX-512VL mask registers (fast masked loads/stores): the halves of V512f / V512d.
struct V256fk : V256f {
  using Half = V256fk;
  static __mmask8 kmask(int n) { return (__mmask8)((1u << n) - 1u); }
  static R load_n(const T* p, int n) { return _mm256_maskz_loadu_ps(kmask(n), p); }
  static void store_n(T* p, R v, int n) { _mm256_mask_storeu_ps(p, kmask(n), v); }
};
struct V256dk : V256d {
  using Half = V256dk;
  static __mmask8 kmask(int n) { return (__mmask8)((1u << n) - 1u); }
  static R load_n(const T* p, int n) { return _mm256_maskz_loadu_pd(kmask(n), p); }
  static void store_n(T* p, R v, int n) { _mm256_mask_storeu_pd(p, kmask(n), v); }
};
struct V512f {
  using T = float;
  using R = __m512;
  using Half = V256fk;
  static constexpr int L = 16;
  static __m256 lo(R v) { return _mm512_castps512_ps256(v); }
  static R zero() { return _mm512_setzero_ps(); }
  static R set1(T x) { return _mm512_set1_ps(x); }
  static R loadu(const T* p) { return _mm512_loadu_ps(p); }
  static void storeu(T* p, R v) { _mm512_storeu_ps(p, v); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R max(R a, R b) { return _mm512_maskz_max_ps(0xffff, a, b); }  // (maskz: see vecmath.h's vexp)
  static __mmask16 mask(int n) { return (__mmask16)((1u << n) - 1u); }
  static R load_n(const T* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void store_n(T* p, R v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
};
struct V512d {
  using T = double;
  using R = __m512d;
  using Half = V256dk;
  static constexpr int L = 8;
  static __m256d lo(R v) { return _mm512_castpd512_pd256(v); }
  static R zero() { return _mm512_setzero_pd(); }
  static R set1(T x) { return _mm512_set1_pd(x); }
  static R loadu(const T* p) { return _mm512_loadu_pd(p); }
  static void storeu(T* p, R v) { _mm512_storeu_pd(p, v); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  static R mul(R a, R b) { return _mm512_mul_pd(a, b); }
  static R add(R a, R b) { return _mm512_add_pd(a, b); }
  static R max(R a, R b) { return _mm512_maskz_max_pd(0xff, a, b); }
  static __mmask8 mask(int n) { return (__mmask8)((1u << n) - 1u); }
  static R load_n(const T* p, int n) { return _mm512_maskz_loadu_pd(mask(n), p); }
  static void store_n(T* p, R v, int n) { _mm512_mask_storeu_pd(p, mask(n), v); }
};
#endif

// ---------------------------------------------------------------------------------------------------- transposes
// 4 lines of 4 doubles -> 4 rows of 4 doubles.
inline void transpose4x4(__m256d& r0, __m256d& r1, __m256d& r2, __m256d& r3) {
  __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
  __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
  r0 = _mm256_permute2f128_pd(t0, t2, 0x20);
  r1 = _mm256_permute2f128_pd(t1, t3, 0x20);
  r2 = _mm256_permute2f128_pd(t0, t2, 0x31);
  r3 = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// Transposing pack: dst[p*W + r] = src[r*ls + p] for r < lines, p < k (lines are contiguous along p).
inline void pack_lines_f(const float* src, int64_t ls, int lines, int64_t k, float* dst, int W) {
  for (int r0 = 0; r0 < lines; r0 += 8) {
    const int nl = std::min(8, lines - r0);
    const float* s[8];
    for (int i = 0; i < 8; ++i) s[i] = src + (int64_t)(r0 + std::min(i, nl - 1)) * ls;
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
      __m256 x0 = _mm256_loadu_ps(s[0] + p), x1 = _mm256_loadu_ps(s[1] + p), x2 = _mm256_loadu_ps(s[2] + p),
             x3 = _mm256_loadu_ps(s[3] + p), x4 = _mm256_loadu_ps(s[4] + p), x5 = _mm256_loadu_ps(s[5] + p),
             x6 = _mm256_loadu_ps(s[6] + p), x7 = _mm256_loadu_ps(s[7] + p);
      transpose8x8(x0, x1, x2, x3, x4, x5, x6, x7);
      float* d = dst + p * W + r0;
      if (nl == 8) {
        _mm256_storeu_ps(d, x0);
        _mm256_storeu_ps(d + W, x1);
        _mm256_storeu_ps(d + 2 * W, x2);
        _mm256_storeu_ps(d + 3 * W, x3);
        _mm256_storeu_ps(d + 4 * W, x4);
        _mm256_storeu_ps(d + 5 * W, x5);
        _mm256_storeu_ps(d + 6 * W, x6);
        _mm256_storeu_ps(d + 7 * W, x7);
      } else if (nl == 4) {  // 128-bit stores: masked stores are slow on AMD cores
        _mm_storeu_ps(d, _mm256_castps256_ps128(x0));
        _mm_storeu_ps(d + W, _mm256_castps256_ps128(x1));
        _mm_storeu_ps(d + 2 * W, _mm256_castps256_ps128(x2));
        _mm_storeu_ps(d + 3 * W, _mm256_castps256_ps128(x3));
        _mm_storeu_ps(d + 4 * W, _mm256_castps256_ps128(x4));
        _mm_storeu_ps(d + 5 * W, _mm256_castps256_ps128(x5));
        _mm_storeu_ps(d + 6 * W, _mm256_castps256_ps128(x6));
        _mm_storeu_ps(d + 7 * W, _mm256_castps256_ps128(x7));
      } else {
        alignas(32) float t[8][8];
        _mm256_store_ps(t[0], x0);
        _mm256_store_ps(t[1], x1);
        _mm256_store_ps(t[2], x2);
        _mm256_store_ps(t[3], x3);
        _mm256_store_ps(t[4], x4);
        _mm256_store_ps(t[5], x5);
        _mm256_store_ps(t[6], x6);
        _mm256_store_ps(t[7], x7);
        for (int q = 0; q < 8; ++q)
          for (int i = 0; i < nl; ++i) d[q * W + i] = t[q][i];
      }
    }
    for (; p < k; ++p)
      for (int i = 0; i < nl; ++i) dst[p * W + r0 + i] = s[i][p];
  }
}

inline void pack_lines_d(const double* src, int64_t ls, int lines, int64_t k, double* dst, int W) {
  for (int r0 = 0; r0 < lines; r0 += 4) {
    const int nl = std::min(4, lines - r0);
    const double* s[4];
    for (int i = 0; i < 4; ++i) s[i] = src + (int64_t)(r0 + std::min(i, nl - 1)) * ls;
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
      __m256d x0 = _mm256_loadu_pd(s[0] + p), x1 = _mm256_loadu_pd(s[1] + p), x2 = _mm256_loadu_pd(s[2] + p),
              x3 = _mm256_loadu_pd(s[3] + p);
      transpose4x4(x0, x1, x2, x3);
      double* d = dst + p * W + r0;
      if (nl == 4) {
        _mm256_storeu_pd(d, x0);
        _mm256_storeu_pd(d + W, x1);
        _mm256_storeu_pd(d + 2 * W, x2);
        _mm256_storeu_pd(d + 3 * W, x3);
      } else {
        alignas(32) double t[4][4];
        _mm256_store_pd(t[0], x0);
        _mm256_store_pd(t[1], x1);
        _mm256_store_pd(t[2], x2);
        _mm256_store_pd(t[3], x3);
        for (int q = 0; q < 4; ++q)
          for (int i = 0; i < nl; ++i) d[q * W + i] = t[q][i];
      }
    }
    for (; p < k; ++p)
      for (int i = 0; i < nl; ++i) dst[p * W + r0 + i] = s[i][p];
  }
}

// ---------------------------------------------------------------------------------------------------- kernel
// MR x NR micro-tile kernel over vector traits V; KC/MC/NC: this kernel's block-size table (the ISA file's).
template <class V, int MR_, int NR_, int KC_, int MC_, int NC_>
struct SimdKernel {
  using T = typename V::T;
  using R = typename V::R;
  using H = typename V::Half;  // half-width vectors for narrow N edges (V itself when there are none)
  using HR = typename H::R;
  static constexpr int MR = MR_, NR = NR_, VL = V::L;
  static constexpr int KC = KC_, MC = MC_, NC = NC_;
  static constexpr bool kHalfTail = H::L * 2 == V::L;
  // planner constants: this core does 2 x 256-bit FMA per cycle (one 512-bit); packing ~0.5 cycle per element
  static constexpr double kMacsPerCycle = 64.0 / sizeof(T), kPackCost = 0.5;
  static constexpr int64_t kPrefetchC = 32;

  // HT (half tail): the last of the NV vectors holds <= VL/2 valid columns and is computed with half-width
  // vectors, which issue twice as fast on this core (an N edge of 4 floats costs half a 16-wide vector).
  template <int M, int NV, bool PA, bool HT = false>
  static void tile(int64_t k, const T* a, int64_t a_rs, int64_t a_cs, const T* b, int64_t b_rs, T* c, int64_t rs_c,
                   int n, const TileStore<T>& st) {
    constexpr int NF = HT ? NV - 1 : NV;  // full-width vectors per row
    constexpr int NFA = NF > 0 ? NF : 1;
    R acc[M][NFA];
    HR acch[M];
#pragma GCC unroll 32
    for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < NFA; ++j) acc[i][j] = V::zero();
      acch[i] = H::zero();
    }
    // Unpacked A: row i is read at ar[i / 3] + (i % 3) * a_rs (base + index * scale addressing), from MR/3 row
    // pointers advanced by a_cs per k step: MR separate row pointers do not fit the general registers beside b,
    // the strides and the counter, and their spills cost FMA-port uops in the loop.
    constexpr int NB = (M + 2) / 3;
    const T* ar[NB];
#pragma GCC unroll 8
    for (int q = 0; q < NB; ++q) ar[q] = a + 3 * q * a_rs;
    // C is prefetched (for writing) kPrefetchC steps before the end: early enough to cover a miss to L3, late
    // enough that the B micro-panel streaming through L1 does not evict it first.
    const int64_t kpf = std::max<int64_t>(0, k - kPrefetchC);
#pragma GCC unroll 2
    for (int64_t p = 0; p < k; ++p) {
      if (p == kpf) {
#pragma GCC unroll 32
        for (int i = 0; i < M; ++i) {
          _mm_prefetch((const char*)(c + i * rs_c), _MM_HINT_ET0);
          _mm_prefetch((const char*)(c + i * rs_c + n - 1), _MM_HINT_ET0);
        }
      }
      R bv[NFA];
#pragma GCC unroll 4
      for (int j = 0; j < NF; ++j) bv[j] = V::loadu(b + j * VL);
      HR bh = H::zero();
      if constexpr (HT) bh = H::loadu(b + NF * VL);
#pragma GCC unroll 32
      for (int i = 0; i < M; ++i) {
        R av = V::set1(PA ? a[p * MR + i] : ar[i / 3][(i % 3) * a_rs]);
#pragma GCC unroll 4
        for (int j = 0; j < NF; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
        if constexpr (HT) acch[i] = H::fma(V::lo(av), bh, acch[i]);
      }
      b += b_rs;
      if constexpr (!PA) {
#pragma GCC unroll 8
        for (int q = 0; q < NB; ++q) ar[q] += a_cs;
      }
    }
    store<M, NV, HT>(acc, acch, c, rs_c, n, st);
  }

  // v -> alpha v (+ beta C) (+ bias) (ReLU) -> C, on `lanes` valid lanes (all of them when lanes == W::L).
  template <class W>
  static void finish(typename W::R v, T* cp, const T* bias_col, typename W::R rb, int lanes, const TileStore<T>& st) {
    using WR = typename W::R;
    const WR z = W::zero();
    v = W::mul(W::set1(st.alpha), v);
    const bool full = lanes == W::L;
    if (st.beta != T(0)) v = W::fma(W::set1(st.beta), full ? W::loadu(cp) : W::load_n(cp, lanes), v);
    if (st.bias_kind == BiasKind::PerRow) v = W::add(v, rb);
    else if (st.bias_kind == BiasKind::PerCol) v = W::add(v, full ? W::loadu(bias_col) : W::load_n(bias_col, lanes));
    if (st.relu) v = W::max(z, v);
    if (full) W::storeu(cp, v);
    else W::store_n(cp, v, lanes);
  }

  template <int M, int NV, bool HT, int NFA>
  static void store(R (&acc)[M][NFA], HR (&acch)[M], T* c, int64_t rs_c, int n, const TileStore<T>& st_ref) {
    constexpr int NF = HT ? NV - 1 : NV;
    const int last_n = n - (NV - 1) * VL;  // valid lanes of the last vector (1..VL, or 1..VL/2 when HT)
    // The two stores of almost every tile (full width, alpha 1, no epilogue): C = acc on the first KC block
    // (beta 0), C += acc on the others. Straight-line code: the general path below re-tests alpha, beta, the bias
    // kind and ReLU per vector, ~20 instructions each, which costs 5-15% of a tile when k is 64-384.
    if (!HT && last_n == VL && st_ref.alpha == T(1) && st_ref.bias_kind == BiasKind::None && !st_ref.relu &&
        (st_ref.beta == T(0) || st_ref.beta == T(1))) {
      if (st_ref.beta == T(0)) {
#pragma GCC unroll 32
        for (int i = 0; i < M; ++i)
#pragma GCC unroll 4
          for (int j = 0; j < NF; ++j) V::storeu(c + i * rs_c + j * VL, acc[i][j]);
      } else {
#pragma GCC unroll 32
        for (int i = 0; i < M; ++i)
#pragma GCC unroll 4
          for (int j = 0; j < NF; ++j) {
            T* cp = c + i * rs_c + j * VL;
            V::storeu(cp, V::add(V::loadu(cp), acc[i][j]));
          }
      }
      return;
    }
    const TileStore<T> st = st_ref;  // a local copy: the C stores cannot alias it, so its fields stay in registers
#pragma GCC unroll 32
    for (int i = 0; i < M; ++i) {
      T* ci = c + i * rs_c;
      const T rbs = st.bias_kind == BiasKind::PerRow ? st.bias[i] : T(0);
#pragma GCC unroll 4
      for (int j = 0; j < NF; ++j)
        finish<V>(acc[i][j], ci + j * VL, st.bias + j * VL, V::set1(rbs), (j < NV - 1) ? VL : last_n, st);
      if constexpr (HT) finish<H>(acch[i], ci + NF * VL, st.bias + NF * VL, H::set1(rbs), last_n, st);
    }
  }

  // ---- N edge of <= VL/2 columns as dot products along k (AVX-512 float; the driver's contract for it:
  // A read in place with unit column stride, C unit-stride). The half-tail tile broadcasts MR A values per k for a
  // few columns of work, so its loads, not its FMAs, set its speed: measured on Sapphire Rapids, the 4-column edge
  // of N = 100 took 16% of 2880 x 100 x 64 for 4% of the FLOPs. Here rows of A are read as vectors along k and
  // multiplied with the edge columns of B (bt: column j at bt + j * ldbt, zero past kc, ldbt a multiple of VL):
  // RG rows x NCOL columns = 16 accumulators of 16 partial sums each, reduced by a 4-level transposing tree
  // (15 adds) to the 16 dot products, then stored through finish() with the tile's alpha/beta/epilogue. (maskz
  // forms with a full mask: vecmath.h's vexp says why.)
#if defined(__AVX512F__)
  static constexpr bool kDotEdge = sizeof(T) == 4 && VL == 16;
#else
  static constexpr bool kDotEdge = false;
#endif
  static constexpr int kDotEdgeCols = 8;  // edge widths 1..8; the driver's bt holds 8 columns

#if defined(__AVX512F__)
  template <int RG, int NCOL>
  static void edge_dot_g(int m, int64_t kc, const T* a, int64_t a_rs, const T* bt, int64_t ldbt, T* c, int64_t rs_c,
                         int n, const TileStore<T>& st) {
    static_assert(RG * NCOL == 16, "16 accumulators");
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i row_idx[RG];
#pragma GCC unroll 4
    for (int r = 0; r < RG; ++r)
      row_idx[r] = _mm512_maskz_permutexvar_epi32(0xffff, _mm512_add_epi32(_mm512_set1_epi32(r * NCOL), iota), order);
    const int64_t kfull = kc / 16 * 16;
    const __mmask16 tail = (__mmask16)((1u << (kc - kfull)) - 1u);
    for (int i0 = 0; i0 < m; i0 += RG) {
      const T* ap[RG];
#pragma GCC unroll 4
      for (int r = 0; r < RG; ++r) ap[r] = a + (int64_t)std::min(i0 + r, m - 1) * a_rs;
      __m512 acc[16];
#pragma GCC unroll 16
      for (int q = 0; q < 16; ++q) acc[q] = _mm512_setzero_ps();
      auto chunk = [&](int64_t p, __mmask16 mk) __attribute__((always_inline)) {
        __m512 bv[NCOL];
#pragma GCC unroll 8
        for (int j = 0; j < NCOL; ++j) bv[j] = _mm512_load_ps(bt + j * ldbt + p);
#pragma GCC unroll 4
        for (int r = 0; r < RG; ++r) {
          const __m512 av = _mm512_maskz_loadu_ps(mk, ap[r] + p);
#pragma GCC unroll 8
          for (int j = 0; j < NCOL; ++j) acc[r * NCOL + j] = _mm512_fmadd_ps(av, bv[j], acc[r * NCOL + j]);
        }
      };
      for (int64_t p = 0; p < kfull; p += 16) chunk(p, (__mmask16)0xffff);
      if (tail) chunk(kfull, tail);
      __m512 w[8], z[4], u[2];
#pragma GCC unroll 8
      for (int t = 0; t < 8; ++t)
        w[t] = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xffff, acc[2 * t], acc[2 * t + 1], 0x44),
                             _mm512_maskz_shuffle_f32x4(0xffff, acc[2 * t], acc[2 * t + 1], 0xEE));
#pragma GCC unroll 4
      for (int t = 0; t < 4; ++t)
        z[t] = _mm512_add_ps(_mm512_maskz_shuffle_f32x4(0xffff, w[2 * t], w[2 * t + 1], 0x88),
                             _mm512_maskz_shuffle_f32x4(0xffff, w[2 * t], w[2 * t + 1], 0xDD));
#pragma GCC unroll 2
      for (int t = 0; t < 2; ++t)
        u[t] = _mm512_add_ps(_mm512_maskz_shuffle_ps(0xffff, z[2 * t], z[2 * t + 1], 0x44),
                             _mm512_maskz_shuffle_ps(0xffff, z[2 * t], z[2 * t + 1], 0xEE));
      const __m512 f = _mm512_add_ps(_mm512_maskz_shuffle_ps(0xffff, u[0], u[1], 0x88),
                                     _mm512_maskz_shuffle_ps(0xffff, u[0], u[1], 0xDD));
      // dot product q = r * NCOL + j sits in lane order[q] of f; row r's NCOL results gathered by one permute
      // (through memory they would be 256-bit loads from a 512-bit store: a failed store forwarding per row)
      const int rows = std::min(RG, m - i0);
      for (int r = 0; r < rows; ++r) {
        const T rb = st.bias_kind == BiasKind::PerRow ? st.bias[i0 + r] : T(0);
        const __m512 v = _mm512_maskz_permutexvar_ps(0xffff, row_idx[r], f);
        finish<H>(_mm512_maskz_extractf32x8_ps(0xff, v, 0), c + (int64_t)(i0 + r) * rs_c, st.bias, H::set1(rb), n,
                  st);
      }
    }
  }
  static void edge_dot(int m, int64_t kc, const T* a, int64_t a_rs, const T* bt, int64_t ldbt, T* c, int64_t rs_c,
                       int n, const TileStore<T>& st) {
    if constexpr (kDotEdge) {
      if (n <= 4) edge_dot_g<4, 4>(m, kc, a, a_rs, bt, ldbt, c, rs_c, n, st);
      else edge_dot_g<2, 8>(m, kc, a, a_rs, bt, ldbt, c, rs_c, n, st);
    }
  }
#endif

  static void pack_lines(const T* src, int64_t ls, int lines, int64_t k, T* dst, int W) {
    if constexpr (sizeof(T) == 4) pack_lines_f(src, ls, lines, k, dst, W);
    else pack_lines_d(src, ls, lines, k, dst, W);
  }

  // dst[p*W + j] = src[p*ss + j] for j < width, zero for width <= j < W (W need not be a multiple of VL).
  static void copy_rows(const T* src, int64_t ss, int width, int64_t k, T* dst, int W) {
    for (int64_t p = 0; p < k; ++p) {
      const T* s = src + p * ss;
      T* d = dst + p * W;
      for (int j = 0; j < W; j += VL) {
        const int w = std::min(VL, W - j), v = std::max(0, std::min(w, width - j));
        R x = v == VL ? V::loadu(s + j) : (v > 0 ? V::load_n(s + j, v) : V::zero());
        if (w == VL) V::storeu(d + j, x);
        else V::store_n(d + j, x, w);
      }
    }
  }
};

}  // namespace
}  // namespace gemm_detail
}  // namespace dlcore
