// The pooling loops (max, average, adaptive average), compiled once per ISA (the including file defines
// DLCORE_ISA_NS and DLCORE_VLEN).
// Max pooling, general path: the torch scan over each window. Fast path (float32, DLCORE_VLEN > 1): 2x2 windows,
// stride 2, no padding, dilation 1 (the lecture ConvNet's pool): even/odd columns of two input rows split by
// shuffles, the same scan rule applied lane-wise, so values and argmax match the general path exactly.
// Average pooling: see avg_like_fwd below (and the same 2x2 fast path on AVX-512).
#pragma once
#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include "ops/pool/pool_tables.h"
#if DLCORE_VLEN > 1
#include "core/x86_intrin.h"

#include "ops/elementwise/vecmath.h"
#endif

namespace dlcore::DLCORE_ISA_NS {

// The argmax (h * W + w) and max of one window (the shared scan of pool.h).
template <class T>
DLCORE_ALWAYS_INLINE int64_t window_argmax(const T* plane, int64_t H, int64_t W, int64_t oh, int64_t ow,
                                           const Pool2dParams& p, T* mout) {
  return max_pool_window(plane, H, W, oh, ow, p, mout);
}

// (the callers also require every window inside the input: 2 Ho <= H and 2 Wo <= W, i.e. no ceil_mode overhang)
inline bool is_2x2_fast(const Pool2dParams& p) {
  return p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && p.dh == 1 && p.dw == 1;
}

#if DLCORE_VLEN > 1
// The 2x2 fast path works on 8 output columns at a time (16 input columns) in both ISA builds: the lecture net's
// pooled rows are 12 wide, too narrow for 16-lane vectors; Zen 4 executes 512-bit ops as two 256-bit halves anyway.
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
constexpr int64_t kPoolLanes = 8;
DLCORE_ALWAYS_INLINE v8f ld8(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
DLCORE_ALWAYS_INLINE void st8(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
DLCORE_ALWAYS_INLINE v8f sel8(v8i m, v8f a, v8f b) { return (v8f)((m & (v8i)a) | (~m & (v8i)b)); }
DLCORE_ALWAYS_INLINE void split_even_odd(v8f a, v8f b, v8f& e, v8f& o) {
  e = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
  o = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
}
DLCORE_ALWAYS_INLINE void interleave(v8f e, v8f o, v8f& lo, v8f& hi) {
  lo = __builtin_shufflevector(e, o, 0, 8, 1, 9, 2, 10, 3, 11);
  hi = __builtin_shufflevector(e, o, 4, 12, 5, 13, 6, 14, 7, 15);
}
// Lane-wise scan of the 4 window elements in row-major order; k = the winning position (0..3).
DLCORE_ALWAYS_INLINE v8f scan4(v8f a, v8f b, v8f c, v8f d, v8i& k) {
  v8f m = a;
  k = v8i{} + 0;
  v8i t = (b > m) | (b != b);
  m = sel8(t, b, m);
  k = (t & 1) | (~t & k);
  t = (c > m) | (c != c);
  m = sel8(t, c, m);
  k = (t & 2) | (~t & k);
  t = (d > m) | (d != d);
  m = sel8(t, d, m);
  k = (t & 3) | (~t & k);
  return m;
}
#endif

#if DLCORE_VLEN == 16 && defined(__AVX512F__)
// NaN-propagating max (the scan's value: any NaN in the window gives NaN, else the max).
DLCORE_ALWAYS_INLINE __m512 nanmax512(__m512 a, __m512 b) {
  __m512 m = _mm512_maskz_max_ps(0xffff, a, b);  // b when either is NaN (maskz: see global_pair)
  return _mm512_mask_mov_ps(m, _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), a);
}
// One output row of the 2x2 / stride 2 forward (values only), 16 outputs per step from 32 input columns of the two
// input rows: vertical max, then the even/odd columns gathered by one two-source permute each and maxed. Masked
// loads and stores cover a row of any width (the lecture net's 12 outputs from 24 inputs in one step) without
// touching memory outside it.
DLCORE_ALWAYS_INLINE void pool2x2_row_avx512(float* o, const float* r0, const float* r1, int64_t Wo) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  for (int64_t c = 0; c < Wo; c += 16) {
    const int64_t k = std::min<int64_t>(16, Wo - c);  // outputs in this step; inputs 2k
    const __mmask16 mlo = k >= 8 ? (__mmask16)0xffff : (__mmask16)((1u << (2 * k)) - 1);
    const __mmask16 mhi = k > 8 ? (__mmask16)((1u << (2 * k - 16)) - 1) : (__mmask16)0;
    const float* a = r0 + 2 * c;
    const float* b = r1 + 2 * c;
    __m512 lo = nanmax512(_mm512_maskz_loadu_ps(mlo, a), _mm512_maskz_loadu_ps(mlo, b));
    __m512 hi = nanmax512(_mm512_maskz_loadu_ps(mhi, a + 16), _mm512_maskz_loadu_ps(mhi, b + 16));
    __m512 m = nanmax512(_mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi));
    _mm512_mask_storeu_ps(o + c, (__mmask16)((1u << k) - 1), m);
  }
}
// Runs step(i, o, ml, mh, ms) over the 2x2 / stride 2 windows of a plane: per output row oh, 16 outputs per step
// from 32 columns of input rows 2 oh and 2 oh + 1; i: offset of the step's first input (row 2 oh; the second row is
// i + W), o: of its first output; ml, mh: masks of the two 16-column halves of the input, ms: of the outputs (all
// set but on the ragged last step of a row).
template <class Step>
DLCORE_ALWAYS_INLINE void for_2x2_steps(int64_t Ho, int64_t Wo, int64_t W, const Step& step) {
  const int64_t full = Wo / 16 * 16;  // outputs covered by unmasked steps
  const int64_t k = Wo - full;        // outputs of the ragged last step (0: none)
  const __mmask16 mlo = k >= 8 ? (__mmask16)0xffff : (__mmask16)((1u << (2 * k)) - 1);
  const __mmask16 mhi = k > 8 ? (__mmask16)((1u << (2 * k - 16)) - 1) : (__mmask16)0;
  const __mmask16 mk = (__mmask16)((1u << k) - 1);
  for (int64_t oh = 0; oh < Ho; ++oh) {
    for (int64_t c = 0; c < full; c += 16) step(2 * oh * W + 2 * c, oh * Wo + c, 0xffff, 0xffff, 0xffff);
    if (k) step(2 * oh * W + 2 * full, oh * Wo + full, mlo, mhi, mk);
  }
}
// A whole plane of the 2x2 / stride 2 forward (rows 2 oh, 2 oh + 1 -> output row oh), as pool2x2_row_avx512 but
// with plain maxes (3 per 16 outputs instead of 3 NaN-propagating ones at 3 ops each) and the masks of the ragged
// step computed once per plane. Any NaN in the plane is caught by one unordered compare per pair of input vectors;
// such a plane is then redone by the exact row kernel, so the values (NaN included) are those of the scan. For
// NaN-free input max_ps(a, b) is what nanmax512(a, b) returns, operand order kept: the same bits either way.
// The 32 columns at a and a + W (two input rows) of a 2x2 step: plain loads when `plain` (the step's columns stay
// inside the plane: see pool2x2_plane_avx512), else masked by the halves' masks ml, mh.
DLCORE_ALWAYS_INLINE void load_2x2_rows(const float* a, int64_t W, bool plain, __mmask16 ml, __mmask16 mh, __m512& a0,
                                        __m512& a1, __m512& b0, __m512& b1) {
  const float* b = a + W;
  if (plain) {
    a0 = _mm512_loadu_ps(a), a1 = _mm512_loadu_ps(a + 16), b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
  } else {
    a0 = _mm512_maskz_loadu_ps(ml, a), a1 = _mm512_maskz_loadu_ps(mh, a + 16);
    b0 = _mm512_maskz_loadu_ps(ml, b), b1 = _mm512_maskz_loadu_ps(mh, b + 16);
  }
}
// Loads are plain (whole vectors) wherever the 32 columns of both rows stay inside the plane: the columns past the
// row then hold the next row's elements, which feed only lanes that are not stored (they may flag a NaN: the plane
// is then redone, still exactly). Masked loads are slow here when they miss the caches (Zen 5): [64,20,24,24]
// forward, 1 thread, 59 -> 46.5 us; the backward 100 -> 90 us, with the g load plain too ~82 us; the 2x2 average
// forward 50 -> 42.6 us (alternating processes).
DLCORE_ALWAYS_INLINE void pool2x2_plane_avx512(float* op, const float* plane, int64_t H, int64_t Ho, int64_t Wo,
                                               int64_t W) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __mmask16 nan = 0;
  const int64_t whole = H * W - W - 32;  // steps starting at i <= whole read inside the plane
  for_2x2_steps(Ho, Wo, W, [&](int64_t i, int64_t o, __mmask16 ml, __mmask16 mh, __mmask16 ms) {
    __m512 a0, a1, b0, b1;
    load_2x2_rows(plane + i, W, i <= whole, ml, mh, a0, a1, b0, b1);
    nan |= _mm512_cmp_ps_mask(a0, b0, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(a1, b1, _CMP_UNORD_Q);
    const __m512 lo = _mm512_maskz_max_ps(0xffff, a0, b0), hi = _mm512_maskz_max_ps(0xffff, a1, b1);
    const __m512 m =
        _mm512_maskz_max_ps(0xffff, _mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi));
    _mm512_mask_storeu_ps(op + o, ms, m);
  });
  if (nan)
    for (int64_t oh = 0; oh < Ho; ++oh) {
      const float* r0 = plane + 2 * oh * W;
      pool2x2_row_avx512(op + oh * Wo, r0, r0 + W, Wo);
    }
}
// A whole plane of the 2x2 / stride 2 average (no padding): the two rows added, the even and odd columns gathered by
// two-source permutes and added ((x00 + x10) + (x01 + x11), the order of the generic separable loop), then times
// 1/div when div is a power of two (exact) or divided. 16 outputs per step, the ragged step masked.
DLCORE_ALWAYS_INLINE void avg2x2_plane_avx512(float* op, const float* plane, int64_t Ho, int64_t Wo, int64_t W,
                                              int64_t div) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const bool pow2 = (div & (div - 1)) == 0;
  const __m512 inv = _mm512_set1_ps(1.0f / (float)div), dv = _mm512_set1_ps((float)div);
  const int64_t whole = 2 * Ho * W - W - 32;  // steps starting at i <= whole read inside the rows in use
  for_2x2_steps(Ho, Wo, W, [&](int64_t i, int64_t o, __mmask16 ml, __mmask16 mh, __mmask16 ms) {
    const float *a = plane + i, *b = a + W;
    if (i <= whole) ml = mh = 0xffff;  // (plain loads: see pool2x2_plane_avx512)
    const __m512 lo = ml == 0xffff ? _mm512_add_ps(_mm512_loadu_ps(a), _mm512_loadu_ps(b))
                                   : _mm512_add_ps(_mm512_maskz_loadu_ps(ml, a), _mm512_maskz_loadu_ps(ml, b));
    const __m512 hi = mh == 0xffff
                          ? _mm512_add_ps(_mm512_loadu_ps(a + 16), _mm512_loadu_ps(b + 16))
                          : _mm512_add_ps(_mm512_maskz_loadu_ps(mh, a + 16), _mm512_maskz_loadu_ps(mh, b + 16));
    const __m512 sum = _mm512_add_ps(_mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi));
    _mm512_mask_storeu_ps(op + o, ms, pow2 ? _mm512_mul_ps(sum, inv) : _mm512_div_ps(sum, dv));
  });
}
// The backward of avg2x2_plane_avx512: each g / div (the forward's rounding: times 1/div for a power of two) written
// to the four inputs of its window (each value duplicated into two adjacent lanes by one permute per half); the
// columns and the row past the last window (odd W or H) get zeros.
DLCORE_ALWAYS_INLINE void avg2x2_bwd_plane_avx512(float* gp, const float* g, int64_t H, int64_t Ho, int64_t Wo,
                                                  int64_t W, int64_t div) {
  const __m512i dlo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i dhi = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  const bool pow2 = (div & (div - 1)) == 0;
  const __m512 inv = _mm512_set1_ps(1.0f / (float)div), dv = _mm512_set1_ps((float)div);
  for_2x2_steps(Ho, Wo, W, [&](int64_t i, int64_t o, __mmask16 ml, __mmask16 mh, __mmask16 ms) {
    const __m512 x = o + 16 <= Ho * Wo ? _mm512_loadu_ps(g + o) : _mm512_maskz_loadu_ps(ms, g + o);
    const __m512 v = pow2 ? _mm512_mul_ps(x, inv) : _mm512_div_ps(x, dv);
    const __m512 lo = _mm512_maskz_permutexvar_ps(0xffff, dlo, v), hi = _mm512_maskz_permutexvar_ps(0xffff, dhi, v);
    float *a = gp + i, *b = a + W;
    _mm512_mask_storeu_ps(a, ml, lo);
    _mm512_mask_storeu_ps(a + 16, mh, hi);
    _mm512_mask_storeu_ps(b, ml, lo);
    _mm512_mask_storeu_ps(b + 16, mh, hi);
  });
  for (int64_t oh = 0; oh < Ho; ++oh)
    for (int64_t w = 2 * Wo; w < W; ++w) gp[2 * oh * W + w] = gp[(2 * oh + 1) * W + w] = 0.0f;
  if (2 * Ho < H) std::memset(gp + 2 * Ho * W, 0, (H - 2 * Ho) * W * sizeof(float));
}
// The 2x2 / stride 2 backward of a whole plane: per step (for_2x2_steps: 16 outputs, 32 columns of input rows 2 oh
// and 2 oh + 1, the ragged step's masks computed once per plane) the window scan recomputed from the two input rows
// (the four window positions split into even/odd columns by two-source permutes, the scan rule "take if greater or
// NaN" in row-major order, as the general path), g routed to the winner, the zeros of the other three positions
// written in the same stores; the columns and the row past the last window (odd W or H) get zeros.
DLCORE_ALWAYS_INLINE void pool2x2_bwd_plane_avx512(float* gp, const float* plane, const float* go, int64_t H,
                                                   int64_t Ho, int64_t Wo, int64_t W) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i ihi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const int64_t whole = H * W - W - 32;  // steps starting at i <= whole read inside the plane (as the forward)
  for_2x2_steps(Ho, Wo, W, [&](int64_t i, int64_t o, __mmask16 mlo, __mmask16 mhi, __mmask16 mk) {
    float *q0 = gp + i, *q1 = q0 + W;
    __m512 a0, a1, b0, b1;
    load_2x2_rows(plane + i, W, i <= whole, mlo, mhi, a0, a1, b0, b1);
    const __m512 wa = _mm512_permutex2var_ps(a0, even, a1), wb = _mm512_permutex2var_ps(a0, odd, a1);
    const __m512 wc = _mm512_permutex2var_ps(b0, even, b1), wd = _mm512_permutex2var_ps(b0, odd, b1);
    const __m512 g = o + 16 <= Ho * Wo ? _mm512_loadu_ps(go + o) : _mm512_maskz_loadu_ps(mk, go + o);
    __mmask16 ka, kb, kc, kd;
    if (!(_mm512_cmp_ps_mask(wa, wb, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(wc, wd, _CMP_UNORD_Q))) {
      // No NaN among the four: the maximum by vmaxps, the winner as the first of the four equal to it (the scan's
      // first-of-equals), the compares independent of each other rather than a chain.
      const __mmask16 all = 0xffff;
      const __m512 m = _mm512_maskz_max_ps(
          all, wd, _mm512_maskz_max_ps(all, wc, _mm512_maskz_max_ps(all, wb, wa)));
      ka = _mm512_cmp_ps_mask(wa, m, _CMP_EQ_OQ);
      kb = _kandn_mask16(ka, _mm512_cmp_ps_mask(wb, m, _CMP_EQ_OQ));
      const __mmask16 kab = _kor_mask16(ka, kb);
      kc = _kandn_mask16(kab, _mm512_cmp_ps_mask(wc, m, _CMP_EQ_OQ));
      kd = _knot_mask16(_kor_mask16(kab, kc));
    } else {
      __m512 m = wa;
      const __mmask16 tb = _mm512_cmp_ps_mask(wb, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(wb, wb, _CMP_UNORD_Q);
      m = _mm512_mask_mov_ps(m, tb, wb);
      const __mmask16 tc = _mm512_cmp_ps_mask(wc, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(wc, wc, _CMP_UNORD_Q);
      m = _mm512_mask_mov_ps(m, tc, wc);
      const __mmask16 td = _mm512_cmp_ps_mask(wd, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(wd, wd, _CMP_UNORD_Q);
      ka = (__mmask16)(~(tb | tc | td)), kb = (__mmask16)(tb & ~(tc | td)), kc = (__mmask16)(tc & ~td), kd = td;
    }
    const __m512 ga = _mm512_maskz_mov_ps(ka, g), gb = _mm512_maskz_mov_ps(kb, g);
    const __m512 gc = _mm512_maskz_mov_ps(kc, g), gd = _mm512_maskz_mov_ps(kd, g);
    _mm512_mask_storeu_ps(q0, mlo, _mm512_permutex2var_ps(ga, ilo, gb));
    _mm512_mask_storeu_ps(q0 + 16, mhi, _mm512_permutex2var_ps(ga, ihi, gb));
    _mm512_mask_storeu_ps(q1, mlo, _mm512_permutex2var_ps(gc, ilo, gd));
    _mm512_mask_storeu_ps(q1 + 16, mhi, _mm512_permutex2var_ps(gc, ihi, gd));
  });
  if (2 * Wo < W)
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t w = 2 * Wo; w < W; ++w) gp[2 * oh * W + w] = gp[(2 * oh + 1) * W + w] = 0.0f;
  if (2 * Ho < H) std::memset(gp + 2 * Ho * W, 0, (H - 2 * Ho) * W * sizeof(float));
}
#endif

#if DLCORE_VLEN > 1
// Max pooling, float32, any window: one output row at a time, kVLen output columns per vector (a ragged end reruns
// the last whole vector; a row narrower than a vector runs one vector and keeps its first Wo lanes). Each vector runs
// the scan of max_pool_window lane-wise, the elements in row-major window order with its rule (v replaces m when
// v > m or v is NaN), so values and argmax are the scalar path's, over each window row's padded phase copy:
// ph[f][k] = R[k*sw + f] for the row padded with -inf, R[c] = row[c - pw] (so that element j of kVLen consecutive
// outputs is one contiguous load, with no bounds checks). Window rows outside the input are skipped (the same for
// every lane). A -inf padding element may start a lane's scan where the scalar scan starts at the first valid
// element; it is replaced by the first valid element above -inf or NaN, as the scalar scan's start would be, so the
// results differ only where every valid element is -inf: those lanes (m == -inf) are redone by the scalar scan when
// the argmax is wanted. The padded phase copies are cached by input row (slot h mod a power of two >= the rows a
// window spans, so a window's rows never share a slot): each input row is split once per plane.
// (Measured, 1 thread: max_pool2d 3x3/2 pad 1 on [32,64,112,112] forward 231 ms with the scalar scan per window.)
struct MaxPoolRowScratch {
  int64_t Wp;                 // phase length: ceil(Wpad / sw)
  int64_t Wpad;               // padded row length: every column a vector of outputs reads
  int64_t slots;              // a power of two >= (kh - 1) * dh + 1, the rows a window spans
  std::vector<int32_t> arg;   // [max(Wo, kVLen)]
  std::vector<float> val;     // [max(Wo, kVLen)]
  std::vector<float> phases;  // [slots][sw][Wp]
  std::vector<int64_t> tag;   // [slots]: the input row a slot holds (-1: none)
  int64_t off[64];            // window element j of output ow: ph + ow + off[j] (phase (j*dw) % sw, (j*dw) / sw)
  const float* plane = nullptr;
  MaxPoolRowScratch(const Pool2dParams& p, int64_t W, int64_t Wo)
      : arg((std::size_t)std::max<int64_t>(Wo, kVLen)), val((std::size_t)std::max<int64_t>(Wo, kVLen)) {
    const int64_t outs = std::max<int64_t>(Wo, kVLen), span = (p.kh - 1) * p.dh + 1;
    for (slots = 1; slots < span;) slots *= 2;
    Wpad = (outs - 1) * p.sw + (p.kw - 1) * p.dw + 1;
    Wp = (Wpad + p.sw - 1) / p.sw;
    // padded column c -> phase c % sw, position c / sw; the valid columns c in [pw, pw + W) are written per input
    // row, the others (the padding, and the columns of a row narrower than a vector of outputs) stay -inf: filled
    // once here (a kernel-8/stride-8 pool of 32-wide rows wrote 96 such cells per row, most of its time)
    phases.assign((std::size_t)(slots * p.sw * Wp), -std::numeric_limits<float>::infinity());
    tag.assign((std::size_t)slots, -1);
    for (int64_t j = 0; j < p.kw && j < 64; ++j) off[j] = ((j * p.dw) % p.sw) * Wp + (j * p.dw) / p.sw;
  }
  // Row h of plane pl, padded and split into its sw phases.
  const float* phase_row(const float* pl, int64_t h, int64_t W, const Pool2dParams& p) {
    if (pl != plane) {
      plane = pl;
      std::fill(tag.begin(), tag.end(), -1);
    }
    const int64_t slot = h & (slots - 1), sw = p.sw;
    float* d = phases.data() + slot * sw * Wp;
    if (tag[slot] == h) return d;
    tag[slot] = h;
    const float* __restrict row = pl + h * W;
    const int64_t c1 = std::min(Wpad, p.pw + W);
    if (sw == 1) {
      std::memcpy(d + p.pw, row, (c1 - p.pw) * sizeof(float));
    } else if (sw == 2) {  // (constant strides: the compiler vectorises the deinterleave)
      // row[w] is padded column w + pw: even w in phase pw % 2 at w/2 + pw/2, odd w in the other at (w-1)/2 + (pw+1)/2
      float* __restrict de = d + (p.pw % 2) * Wp + p.pw / 2;
      float* __restrict dodd = d + ((p.pw + 1) % 2) * Wp + (p.pw + 1) / 2;
      const int64_t n = (c1 - p.pw) / 2;
      for (int64_t k = 0; k < n; ++k) {
        de[k] = row[2 * k];
        dodd[k] = row[2 * k + 1];
      }
      if ((c1 - p.pw) % 2) de[n] = row[2 * n];
    } else {  // phase by phase: padded column c = f + k sw (no division per element: 2 per element cost ~2 ns,
      // most of a kernel-8/stride-8 pool's time)
      for (int64_t f = 0; f < sw; ++f) {
        const int64_t k0 = f >= p.pw ? 0 : (p.pw - f + sw - 1) / sw, k1 = c1 > f ? (c1 - f + sw - 1) / sw : 0;
        float* __restrict df = d + f * Wp;
        const float* __restrict src = row + f - p.pw;
        for (int64_t k = k0; k < k1; ++k) df[k] = src[k * sw];
      }
    }
    return d;
  }
};

// v > m ? v : m (one vmaxps, whose first operand wins only when greater: a NaN in either operand yields m).
DLCORE_ALWAYS_INLINE vf scan_max(vf v, vf m) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  return (vf)_mm512_maskz_max_ps(0xffff, (__m512)v, (__m512)m);  // (maskz: see global_pair)
#elif DLCORE_VLEN == 8 && defined(__AVX__)
  return (vf)_mm256_max_ps((__m256)v, (__m256)m);
#else
  return vselect(v > m, v, m);
#endif
}

#if DLCORE_VLEN == 16 && defined(__AVX512F__)
// The argmax row for windows of KH x KW elements all inside the input rows (nrows == KH), without a NaN: the
// window's elements loaded once, the maximum by vmaxps in scan order (the first of equals kept), then the index of
// the first element equal to it by masked moves in reverse order (the earliest match written last): compares
// independent of each other instead of the scan's compare/select chain (as in the 2x2 backward). Returns false
// (nothing to trust) when a vector holds a NaN (or inf - inf); the caller then runs the exact scan. Arg false:
// the maxima only (the value-only forward).
template <int KH, int KW, bool Arg = true>
bool max_pool_argmax_fixed(const float* const* base, const int64_t* hrow, const int64_t* off, int64_t W,
                           int64_t outs, int64_t sw, int64_t pw, int64_t dw, float* val, int32_t* arg) {
  const __mmask16 all = 0xffff;
  const __m512i lane = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32((int32_t)sw));
  __mmask16 nan = 0;
  for (int64_t o0 = 0; o0 < outs; o0 += 16) {
    const int64_t o = std::min<int64_t>(o0, outs - 16);
    __m512 v[KH][KW];
    __m512 m = _mm512_setzero_ps(), sum = _mm512_setzero_ps();
    _Pragma("GCC unroll 8") for (int r = 0; r < KH; ++r)
      _Pragma("GCC unroll 8") for (int j = 0; j < KW; ++j) {
        v[r][j] = _mm512_loadu_ps(base[r] + o + off[j]);
        m = (r | j) ? _mm512_maskz_max_ps(all, v[r][j], m) : v[r][j];
        sum = (r | j) ? _mm512_add_ps(sum, v[r][j]) : v[r][j];
      }
    nan |= _mm512_cmp_ps_mask(sum, sum, _CMP_UNORD_Q);
    _mm512_storeu_ps(val + o, m);
    if constexpr (!Arg) continue;
    const __m512i col = _mm512_add_epi32(lane, _mm512_set1_epi32((int32_t)(o * sw - pw)));
    __m512i a = _mm512_setzero_si512();
    _Pragma("GCC unroll 8") for (int r = KH - 1; r >= 0; --r) {
      const __m512i rc = _mm512_add_epi32(col, _mm512_set1_epi32((int32_t)(hrow[r] * W)));
      _Pragma("GCC unroll 8") for (int j = KW - 1; j >= 0; --j)
        a = _mm512_mask_mov_epi32(a, _mm512_cmp_ps_mask(v[r][j], m, _CMP_EQ_OQ),
                                  _mm512_add_epi32(rc, _mm512_set1_epi32((int32_t)(j * dw))));
    }
    _mm512_storeu_si512(arg + o, a);
  }
  return nan == 0;
}
#endif

// Max and (Arg) argmax (int32 h*W + w) of every output of row oh into sc.val / sc.arg (the maxima straight into
// out instead when out is given and Wo >= kVLen).
// Without the argmax (Arg false: the forward when no indices are wanted) and unless `exact`, the scan runs without
// its NaN test: m = scan_max(v, m) keeps the first of equal elements as the scan does, so the values are the scan's
// wherever a window holds no NaN; the windows' plain sums flag the others (a NaN, or inf - inf), and a row with any
// is redone exactly. (With the compare, NaN test, mask-or and select per element, 3x3/2 pooling ran at ~7 cycles
// per output on Zen 4; this is 1.16-1.22x faster. 3x3 windows inside the input rows take max_pool_argmax_fixed,
// with or without the index: 1.16x more on the 3x3/2 forward, 1.12x on its backward; two runtime-window vmaxps
// argmax variants were slower, so other windows keep the exact scan for the argmax.)
template <bool Arg>
void max_pool_row_f32(const float* plane, int64_t H, int64_t W, int64_t oh, int64_t Wo, const Pool2dParams& p,
                      MaxPoolRowScratch& sc, float* out = nullptr, bool exact = false) {
  float* val = out && Wo >= kVLen ? out : sc.val.data();
  const int64_t h0 = oh * p.sh - p.ph, sw = p.sw;
  const float* base[64];
  int64_t hrow[64];
  int64_t nrows = 0;
  for (int64_t i = 0; i < p.kh && nrows < 64; ++i) {
    const int64_t h = h0 + i * p.dh;
    if (h < 0 || h >= H) continue;
    base[nrows] = sc.phase_row(plane, h, W, p);
    hrow[nrows++] = h;
  }
  if (nrows == 0) {  // (no valid row: cannot happen for the sizes the frontend accepts)
    for (int64_t ow = 0; ow < Wo; ++ow) {
      float m;
      sc.arg[ow] = (int32_t)window_argmax(plane, H, W, oh, ow, p, &m);
      val[ow] = m;
    }
    return;
  }
  const int64_t* off = sc.off;  // element j of output ow: padded column ow*sw + j*dw
  vi lane;
  for (int l = 0; l < kVLen; ++l) lane[l] = l * (int32_t)sw;
  const int64_t outs = std::max<int64_t>(Wo, kVLen);
  bool scanned = false;
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  if (!exact && nrows == p.kh && p.kh == 3 && p.kw == 3) {
    scanned = max_pool_argmax_fixed<3, 3, Arg>(base, hrow, off, W, outs, sw, p.pw, p.dw, val, sc.arg.data());
    exact = !scanned;  // a NaN in the row: straight to the exact scan
  }
#endif
  if (!Arg && !exact && !scanned) {
    vi nan{};
    for (int64_t o0 = 0; o0 < outs; o0 += kVLen) {
      const int64_t o = std::min(o0, outs - kVLen);
      vf m, sum;
      for (int64_t r = 0; r < nrows; ++r) {
        const float* b = base[r] + o;
        vf mrow = vload(b + off[0]), srow = mrow;
        for (int64_t j = 1; j < p.kw; ++j) {
          const vf v = vload(b + off[j]);
          mrow = scan_max(v, mrow);
          srow += v;
        }
        m = r ? scan_max(mrow, m) : mrow;
        sum = r ? sum + srow : srow;
      }
      nan |= sum != sum;
      vstore(val + o, m);
    }
    bool any = false;
    for (int l = 0; l < kVLen; ++l) any |= nan[l] != 0;
    if (any) max_pool_row_f32<false>(plane, H, W, oh, Wo, p, sc, out, true);
    return;
  }
  for (int64_t o0 = 0; o0 < outs && !scanned; o0 += kVLen) {
    const int64_t o = std::min(o0, outs - kVLen);  // the last vector reruns lanes already done (same values)
    const vi col = lane + (int32_t)(o * sw - p.pw);  // input column of lane l's output for j = 0
    // Each window row scanned on its own (independent dependency chains), the rows' results then combined in order
    // by the same rule: the scan of a sequence A B equals (mB replaces mA when takes(mB, mA)) for the scans mA, mB
    // of A and B - the last NaN if any, else the first element at the maximum - so values and argmax are exact.
    vf mr[64];
    vi ar[64];
    for (int64_t r = 0; r < nrows; ++r) {
      const float* b = base[r] + o;
      const int32_t rowoff = (int32_t)(hrow[r] * W);
      vf m = vload(b + off[0]);
      vi a = col + rowoff;
      for (int64_t j = 1; j < p.kw; ++j) {
        const vf v = vload(b + off[j]);
        const vi t = (v > m) | (v != v);
        m = vselect(t, v, m);
        if constexpr (Arg) a = (t & (col + (rowoff + (int32_t)(j * p.dw)))) | (~t & a);
      }
      mr[r] = m;
      if constexpr (Arg) ar[r] = a;
    }
    vf m = mr[0];
    vi a = ar[0];
    for (int64_t r = 1; r < nrows; ++r) {
      const vi t = (mr[r] > m) | (mr[r] != mr[r]);
      m = vselect(t, mr[r], m);
      if constexpr (Arg) a = (t & ar[r]) | (~t & a);
    }
    vstore(val + o, m);
    if constexpr (Arg) std::memcpy(sc.arg.data() + o, &a, sizeof a);
  }
  if constexpr (Arg) {
    // every valid element -inf: the scalar scan (found a vector at a time: a scalar test per output was ~10% of the
    // 3x3/2 backward)
    const float ninf = -std::numeric_limits<float>::infinity();
    for (int64_t o0 = 0; o0 < outs; o0 += kVLen) {
      const int64_t o = std::min(o0, outs - kVLen);
      const vi hit = vload(val + o) == ninf;
      bool any = false;
      for (int l = 0; l < kVLen; ++l) any |= hit[l] != 0;
      if (!any) continue;
      for (int64_t ow = o; ow < std::min(o + kVLen, Wo); ++ow)
        if (val[ow] == ninf) {
          float m;
          sc.arg[ow] = (int32_t)window_argmax(plane, H, W, oh, ow, p, &m);
        }
    }
  }
}

// Whether the vector scan applies: float32 planes addressable by int32 and windows of at most 64 x 64.
inline bool max_pool_vec_applies(const Pool2dParams& p, int64_t H, int64_t W) {
  return H * W < (int64_t(1) << 31) && p.kh <= 64 && p.kw <= 64;
}
#endif

#if DLCORE_VLEN == 16 && defined(__AVX512F__)
// The value-only forward for windows 3 wide at column stride 2 (dilation 1, column padding 0 or 1: the 3x3/2 pool of
// ResNet and AlexNet-style nets), any window height, row stride, row padding and row dilation, all in registers: per
// block of 16 outputs the valid window rows' 32 columns c0 .. c0 + 31 (c0 = 32 block) are maxed vertically, split
// into even and odd columns by two-source permutes, and the window's third column comes from the neighbouring block
// by one valignd (padding 1: the previous block's last odd column; padding 0: the next block's first even one).
// Columns past the row (and the left padding) are -inf. Each input element is loaded once per output row that uses
// it, without the phase copies of the general scan; masked loads only at the row's end (a masked load that misses
// the caches is slow here). The maxima are taken in another order than the row-major scan's, which matters only
// where equal elements differ in bits (zeros of both signs: the scan keeps the first) or for NaN (vmaxps returns its
// second operand): a NaN or a -0 among the rows' elements (one vfpclassps per vector) returns false, and the caller
// redoes the row with the exact scan. Otherwise the values are the scan's.
inline bool k3s2_fast(const Pool2dParams& p) { return p.kw == 3 && p.sw == 2 && p.dw == 1 && p.pw <= 1; }
// NR: the number of valid window rows when known at compile time (0: nrows).
template <int NR>
DLCORE_ALWAYS_INLINE bool max_pool_k3s2_rows(float* o, const float* const* rows, int nrows, int64_t W, int64_t Wo,
                                             int64_t pw, int64_t pf, int64_t sh) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __mmask16 all = 0xffff;
  const int n = NR ? NR : nrows;
  __mmask16 special = 0;
  // The vertical maximum of columns c .. c + 15 (scan order: the earlier rows the second operand, kept when equal).
  auto vert = [&](int64_t c) -> __m512 {
    if (c >= W) return ninf;
    for (int64_t k = 0; k < sh; ++k) _mm_prefetch((const char*)(rows[n - 1] + c + pf + k * W), _MM_HINT_T0);
    __m512 v = ninf;
    if (W - c >= 16) {
      _Pragma("GCC unroll 4") for (int r = 0; r < n; ++r) {
        const __m512 a = _mm512_loadu_ps(rows[r] + c);
        special = _kor_mask16(special, _mm512_fpclass_ps_mask(a, 0x85));  // quiet NaN, -0, signalling NaN
        v = r ? _mm512_maskz_max_ps(all, a, v) : a;
      }
    } else {
      const __mmask16 m = (__mmask16)((1u << (W - c)) - 1);
      for (int r = 0; r < n; ++r) {
        const __m512 a = _mm512_mask_loadu_ps(ninf, m, rows[r] + c);
        special = _kor_mask16(special, _mm512_fpclass_ps_mask(a, 0x85));
        v = r ? _mm512_maskz_max_ps(all, a, v) : a;
      }
    }
    return v;
  };
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __m512 v0 = vert(0), v1 = vert(16);
  __m512 e = _mm512_permutex2var_ps(v0, even, v1), d = _mm512_permutex2var_ps(v0, odd, v1), dprev = ninf;
  for (int64_t c = 0; c < Wo; c += 16) {  // outputs c .. c + 15: columns 2 c - pw + {0, 1, 2}
    __m512 m;
    __m512 en = e, dn = d;
    if (pw == 1) {  // columns 2 k - 1, 2 k, 2 k + 1
      const __m512 left = (__m512)_mm512_alignr_epi32((__m512i)d, (__m512i)dprev, 15);
      m = _mm512_maskz_max_ps(all, d, _mm512_maskz_max_ps(all, e, left));
      if (c + 16 < Wo) {
        v0 = vert(2 * c + 32), v1 = vert(2 * c + 48);
        en = _mm512_permutex2var_ps(v0, even, v1), dn = _mm512_permutex2var_ps(v0, odd, v1);
      }
    } else {  // columns 2 k, 2 k + 1, 2 k + 2
      v0 = vert(2 * c + 32);
      v1 = c + 16 < Wo ? vert(2 * c + 48) : ninf;
      en = _mm512_permutex2var_ps(v0, even, v1), dn = _mm512_permutex2var_ps(v0, odd, v1);
      const __m512 right = (__m512)_mm512_alignr_epi32((__m512i)en, (__m512i)e, 1);
      m = _mm512_maskz_max_ps(all, right, _mm512_maskz_max_ps(all, d, e));
    }
    _mm512_mask_storeu_ps(o + c, Wo - c >= 16 ? all : (__mmask16)((1u << (Wo - c)) - 1), m);
    dprev = d, e = en, d = dn;
  }
  return special == 0;
}
inline bool max_pool_k3s2_row_avx512(float* o, const float* plane, int64_t H, int64_t W, int64_t oh, int64_t Wo,
                                     const Pool2dParams& p) {
  const float* rows[64];
  int nrows = 0;
  for (int64_t i = 0; i < p.kh && nrows < 64; ++i) {
    const int64_t h = oh * p.sh - p.ph + i * p.dh;
    if (h >= 0 && h < H) rows[nrows++] = plane + h * W;
  }
  // Software prefetch of the rows 16 ahead (the next output rows' new input rows; past the plane harmless): with it
  // [8,64,112,112] 3x3/2 ran at 115-122 instead of 140-155 us per image (1 thread, out of the caches).
  const int64_t pf = 16 * W;
  switch (nrows) {
    case 0: return false;  // (no valid row: the exact scan's fallback)
    case 2: return max_pool_k3s2_rows<2>(o, rows, 2, W, Wo, p.pw, pf, p.sh);
    case 3: return max_pool_k3s2_rows<3>(o, rows, 3, W, Wo, p.pw, pf, p.sh);
    default: return max_pool_k3s2_rows<0>(o, rows, nrows, W, Wo, p.pw, pf, p.sh);
  }
}
#endif

template <class T>
void max_pool_fwd(char* outp, int64_t* idx, const char* inp, int64_t p0, int64_t p1, int64_t H, int64_t W,
                  int64_t Ho, int64_t Wo, const Pool2dParams& p) {
  T* out = reinterpret_cast<T*>(outp);
  const T* in = reinterpret_cast<const T*>(inp);
#if DLCORE_VLEN > 1
  std::optional<MaxPoolRowScratch> sc;
#endif
  for (int64_t pl = p0; pl < p1; ++pl) {
    const T* plane = in + pl * H * W;
    T* op = out + pl * Ho * Wo;
    int64_t* ip = idx ? idx + pl * Ho * Wo : nullptr;
#if DLCORE_VLEN > 1
    if constexpr (std::is_same_v<T, float>) {
      if (is_2x2_fast(p) && !ip && 2 * Ho <= H && 2 * Wo <= W) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
        pool2x2_plane_avx512(op, plane, H, Ho, Wo, W);
        continue;
#endif
        for (int64_t oh = 0; oh < Ho; ++oh) {
          const float* r0 = plane + 2 * oh * W;
          const float* r1 = r0 + W;
          float* o = op + oh * Wo;
          // Vectors of 8 outputs; a ragged end reruns the last 8 (idempotent) when Wo >= 8.
          for (int64_t ow0 = 0; ow0 < Wo; ow0 += kPoolLanes) {
            int64_t ow = ow0 + kPoolLanes <= Wo ? ow0 : Wo - kPoolLanes;
            if (ow < 0) {
              for (int64_t q = ow0; q < Wo; ++q) {
                float m;
                window_argmax(plane, H, W, oh, q, p, &m);
                o[q] = m;
              }
              break;
            }
            v8f e0, o0, e1, o1;
            split_even_odd(ld8(r0 + 2 * ow), ld8(r0 + 2 * ow + 8), e0, o0);
            split_even_odd(ld8(r1 + 2 * ow), ld8(r1 + 2 * ow + 8), e1, o1);
            v8i k;
            st8(o + ow, scan4(e0, o0, e1, o1, k));
          }
        }
        continue;
      }
    }
#endif
#if DLCORE_VLEN > 1
    if constexpr (std::is_same_v<T, float>) {
      if (max_pool_vec_applies(p, H, W)) {
        if (!sc) sc.emplace(p, W, Wo);
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
        if (!ip && k3s2_fast(p)) {
          for (int64_t oh = 0; oh < Ho; ++oh)
            if (!max_pool_k3s2_row_avx512(op + oh * Wo, plane, H, W, oh, Wo, p)) {
              max_pool_row_f32<false>(plane, H, W, oh, Wo, p, *sc, op + oh * Wo, true);
              if (Wo < kVLen) std::memcpy(op + oh * Wo, sc->val.data(), Wo * sizeof(float));
            }
          continue;
        }
#endif
        for (int64_t oh = 0; oh < Ho; ++oh) {
          if (ip) max_pool_row_f32<true>(plane, H, W, oh, Wo, p, *sc, op + oh * Wo);
          else max_pool_row_f32<false>(plane, H, W, oh, Wo, p, *sc, op + oh * Wo);
          if (Wo < kVLen) std::memcpy(op + oh * Wo, sc->val.data(), Wo * sizeof(float));
          if (ip)
            for (int64_t ow = 0; ow < Wo; ++ow) ip[oh * Wo + ow] = sc->arg[ow];
        }
        continue;
      }
    }
#endif
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        T m;
        int64_t b = window_argmax(plane, H, W, oh, ow, p, &m);
        op[oh * Wo + ow] = m;
        if (ip) ip[oh * Wo + ow] = b;
      }
  }
}

template <class T>
void max_pool_bwd(char* ginp, const char* goutp, const char* inp, int64_t p0, int64_t p1, int64_t H, int64_t W,
                  int64_t Ho, int64_t Wo, const Pool2dParams& p) {
  T* gin = reinterpret_cast<T*>(ginp);
  const T* gout = reinterpret_cast<const T*>(goutp);
  const T* in = reinterpret_cast<const T*>(inp);
#if DLCORE_VLEN > 1
  std::optional<MaxPoolRowScratch> sc;
#endif
  for (int64_t pl = p0; pl < p1; ++pl) {
    const T* plane = in + pl * H * W;
    const T* g = gout + pl * Ho * Wo;
    T* gp = gin + pl * H * W;
#if DLCORE_VLEN > 1
    if constexpr (std::is_same_v<T, float>) {
      if (is_2x2_fast(p) && 2 * Ho <= H && 2 * Wo <= W) {
        // Windows tile the top-left [2 Ho, 2 Wo] block; the rest of the plane (odd H or W) gets zeros.
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
        pool2x2_bwd_plane_avx512(gp, plane, g, H, Ho, Wo, W);
        continue;
#endif
        for (int64_t oh = 0; oh < Ho; ++oh) {
          const float* r0 = plane + 2 * oh * W;
          const float* r1 = r0 + W;
          float* q0 = gp + 2 * oh * W;
          float* q1 = q0 + W;
          const float* go = g + oh * Wo;
          for (int64_t ow0 = 0; ow0 < Wo; ow0 += kPoolLanes) {
            int64_t ow = ow0 + kPoolLanes <= Wo ? ow0 : Wo - kPoolLanes;
            if (ow < 0) {
              for (int64_t q = ow0; q < Wo; ++q) {
                float m;
                int64_t b = window_argmax(plane, H, W, oh, q, p, &m);
                q0[2 * q] = q0[2 * q + 1] = q1[2 * q] = q1[2 * q + 1] = 0.0f;
                gp[b] = go[q];
              }
              break;
            }
            v8f e0, o0, e1, o1;
            split_even_odd(ld8(r0 + 2 * ow), ld8(r0 + 2 * ow + 8), e0, o0);
            split_even_odd(ld8(r1 + 2 * ow), ld8(r1 + 2 * ow + 8), e1, o1);
            v8i k;
            scan4(e0, o0, e1, o1, k);
            v8f gv = ld8(go + ow), z = v8f{} + 0.0f;
            v8f ge0 = sel8(k == 0, gv, z), go0 = sel8(k == 1, gv, z);
            v8f ge1 = sel8(k == 2, gv, z), go1 = sel8(k == 3, gv, z);
            v8f lo, hi;
            interleave(ge0, go0, lo, hi);
            st8(q0 + 2 * ow, lo);
            st8(q0 + 2 * ow + 8, hi);
            interleave(ge1, go1, lo, hi);
            st8(q1 + 2 * ow, lo);
            st8(q1 + 2 * ow + 8, hi);
          }
          for (int64_t w = 2 * Wo; w < W; ++w) q0[w] = q1[w] = 0.0f;
        }
        if (2 * Ho < H) std::memset(gp + 2 * Ho * W, 0, (H - 2 * Ho) * W * sizeof(float));
        continue;
      }
    }
#endif
#if DLCORE_VLEN > 1
    if constexpr (std::is_same_v<T, float>) {
      if (max_pool_vec_applies(p, H, W)) {
        if (!sc) sc.emplace(p, W, Wo);
        // gin's rows are zeroed as the windows first reach them (while the scatter below is about to use them:
        // one pass over gin instead of a memset pass and a scatter pass); the scatter order is the scalar loop's.
        int64_t zeroed = 0;
        for (int64_t oh = 0; oh < Ho; ++oh) {
          const int64_t reach = std::min(H, std::max<int64_t>(0, oh * p.sh - p.ph + (p.kh - 1) * p.dh + 1));
          if (reach > zeroed) {
            std::memset(gp + zeroed * W, 0, (reach - zeroed) * W * sizeof(float));
            zeroed = reach;
          }
          max_pool_row_f32<true>(plane, H, W, oh, Wo, p, *sc);
          const float* go = g + oh * Wo;
          for (int64_t ow = 0; ow < Wo; ++ow)
            if (sc->arg[ow] >= 0) gp[sc->arg[ow]] += go[ow];
        }
        if (zeroed < H) std::memset(gp + zeroed * W, 0, (H - zeroed) * W * sizeof(float));
        continue;
      }
    }
#endif
    std::memset(gp, 0, H * W * sizeof(T));
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        T m;
        int64_t b = window_argmax(plane, H, W, oh, ow, p, &m);
        if (b >= 0) gp[b] += g[oh * Wo + ow];
      }
  }
}

#if DLCORE_VLEN == 16 && defined(__AVX512F__)
// Global average pooling of 16 consecutive planes of n values each: plane l's 16 partial sums in one vector (its
// last, partial group by a masked load: the other lanes add +0, which leaves a partial sum unchanged, as the
// partials start at +0 and so are never -0), then plane_sum16's tree for all 16 planes at once: each level adds
// the two halves of each plane's partials and packs two vectors' results into one (128-bit lane shuffles for the
// halves of 8 and 4, in-lane shuffles for 2 and 1), so lane 4q + e ends holding plane 4e + q, put in order by one
// permute. 16 loads per plane row of 16 at most and 15 shuffle pairs per 16 planes, instead of a 16-add scalar
// chain per plane.
// (the maskz forms: GCC 12 warns that the plain ones read an uninitialized _mm512_undefined_ps)
DLCORE_ALWAYS_INLINE __m512 global_pair(__m512 a, __m512 b, int level) {
  const __mmask16 all = 0xffff;
  switch (level) {
    case 8:
      return _mm512_add_ps(_mm512_maskz_shuffle_f32x4(all, a, b, 0x44), _mm512_maskz_shuffle_f32x4(all, a, b, 0xEE));
    case 4:
      return _mm512_add_ps(_mm512_maskz_shuffle_f32x4(all, a, b, 0x88), _mm512_maskz_shuffle_f32x4(all, a, b, 0xDD));
    case 2: return _mm512_add_ps(_mm512_maskz_shuffle_ps(all, a, b, 0x44), _mm512_maskz_shuffle_ps(all, a, b, 0xEE));
    default: return _mm512_add_ps(_mm512_maskz_shuffle_ps(all, a, b, 0x88), _mm512_maskz_shuffle_ps(all, a, b, 0xDD));
  }
}
inline void global_avg16_avx512(float* out, const float* x, int64_t n) {
  const int64_t full = n / 16 * 16;
  const __mmask16 tail = (__mmask16)((1u << (n - full)) - 1u);
  __m512 v[16];
  for (int l = 0; l < 16; ++l) {
    const float* p = x + l * n;
    __m512 a = _mm512_setzero_ps();
    for (int64_t i = 0; i < full; i += 16) a = _mm512_add_ps(a, _mm512_loadu_ps(p + i));
    if (tail) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(tail, p + full));
    v[l] = a;
  }
  for (int k = 0; k < 8; ++k) v[k] = global_pair(v[2 * k], v[2 * k + 1], 8);
  for (int k = 0; k < 4; ++k) v[k] = global_pair(v[2 * k], v[2 * k + 1], 4);
  for (int k = 0; k < 2; ++k) v[k] = global_pair(v[2 * k], v[2 * k + 1], 2);
  const __m512 s = global_pair(v[0], v[1], 1);  // lane 4q + e: plane 4e + q
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_storeu_ps(out, _mm512_div_ps(_mm512_maskz_permutexvar_ps(0xffff, order, s), _mm512_set1_ps((float)n)));
}
#endif

// ---- average pooling (plain and adaptive), separable: per output row, the column sums of its window rows (one
// vectorised pass per window row over the whole input row), then per output the sum of its window's columns. The
// backward mirrors it: per output row, the row of per-column contributions (each output's g / count spread over
// its window's columns), added to each of its window rows. The CUDA kernels sum in the same order (pool.h
// window_col_sum, plane_sum16; the gather of the backward grouped by output row), so both give the same bits.
// The windows of one side: [lo, hi) clipped to the input, and the padded length for count_include_pad.
struct PoolSpan {
  int64_t lo, hi, full;
};
inline PoolSpan avg_span(int64_t o, int64_t L, int64_t k, int64_t s, int64_t pad) {
  const int64_t a = o * s - pad, b = std::min(a + k, L + pad);
  return {std::max<int64_t>(a, 0), std::min(b, L), b - a};
}
inline PoolSpan adaptive_span(int64_t o, int64_t L, int64_t Lo) {
  const int64_t a = adaptive_start(o, L, Lo), b = adaptive_end(o, L, Lo);
  return {a, b, b - a};
}
template <class T>
T* pool_scratch(int64_t n, int slot) {
  thread_local std::vector<T> buf[2];
  if ((int64_t)buf[slot].size() < n) buf[slot].resize(n);
  return buf[slot].data();
}

template <class T, bool Adaptive>
void avg_like_fwd(char* outp, const char* inp, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                  const Pool2dParams& p) {
  T* out = reinterpret_cast<T*>(outp);
  const T* in = reinterpret_cast<const T*>(inp);
  auto hspan = [&](int64_t oh) { return Adaptive ? adaptive_span(oh, H, Ho) : avg_span(oh, H, p.kh, p.sh, p.ph); };
  auto wspan = [&](int64_t ow) { return Adaptive ? adaptive_span(ow, W, Wo) : avg_span(ow, W, p.kw, p.sw, p.pw); };
  if (Adaptive && Ho == 1 && Wo == 1) {  // global average pooling: plane_sum16's order
    int64_t pl = p0;
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>)
      for (; pl + 16 <= p1; pl += 16) global_avg16_avx512(out + pl, in + pl * H * W, H * W);
#endif
    for (; pl < p1; ++pl) out[pl] = plane_sum16(in + pl * H * W, H * W) / (T)(H * W);
    return;
  }
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && !Adaptive) {
    if (is_2x2_fast(p) && 2 * Ho <= H && 2 * Wo <= W) {
      for (int64_t pl = p0; pl < p1; ++pl)
        avg2x2_plane_avx512(out + pl * Ho * Wo, in + pl * H * W, Ho, Wo, W,
                            p.divisor_override ? p.divisor_override : 4);
      return;
    }
  }
#endif
  T* cs = pool_scratch<T>(W, 0);
  // 2x2-style windows (kw == sw, no column padding, every window inside the row): a plain loop of kw adds
  const bool plain_w = !Adaptive && p.kw == p.sw && p.pw == 0 && Wo * p.sw <= W;
  for (int64_t pl = p0; pl < p1; ++pl) {
    const T* x = in + pl * H * W;
    for (int64_t oh = 0; oh < Ho; ++oh) {
      T* o = out + (pl * Ho + oh) * Wo;
      const PoolSpan hs = hspan(oh);
      if (hs.lo >= hs.hi) {
        std::fill(o, o + Wo, T(0));
        continue;
      }
      const T* r0 = x + hs.lo * W;
      if (hs.hi - hs.lo == 1) {
        std::copy(r0, r0 + W, cs);
      } else {
        const T* r1 = r0 + W;
        for (int64_t w = 0; w < W; ++w) cs[w] = r0[w] + r1[w];
      }
      for (int64_t h = hs.lo + 2; h < hs.hi; ++h) {
        const T* r = x + h * W;
        for (int64_t w = 0; w < W; ++w) cs[w] += r[w];
      }
      if (plain_w && (p.divisor_override || p.count_include_pad || hs.hi - hs.lo == hs.full)) {
        const int64_t div = p.divisor_override ? p.divisor_override : hs.full * p.kw;
        const int64_t k = p.kw;
        // a power-of-two count (2x2: 4) divides exactly as a product with its reciprocal; others divide
        const bool pow2 = (div & (div - 1)) == 0;
        const T inv = T(1) / (T)div, dv = (T)div;
        if (k == 2 && pow2) {
          for (int64_t ow = 0; ow < Wo; ++ow) o[ow] = (cs[2 * ow] + cs[2 * ow + 1]) * inv;
        } else {
          for (int64_t ow = 0; ow < Wo; ++ow) {
            T s = 0;
            for (int64_t j = 0; j < k; ++j) s += cs[ow * k + j];
            o[ow] = pow2 ? s * inv : s / dv;
          }
        }
        continue;
      }
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const PoolSpan ws = wspan(ow);
        if (ws.lo >= ws.hi) {
          o[ow] = 0;
          continue;
        }
        T s = 0;
        for (int64_t w = ws.lo; w < ws.hi; ++w) s += cs[w];
        const int64_t div = Adaptive ? (hs.hi - hs.lo) * (ws.hi - ws.lo)
                            : p.divisor_override ? p.divisor_override
                            : p.count_include_pad ? hs.full * ws.full
                                                  : (hs.hi - hs.lo) * (ws.hi - ws.lo);
        o[ow] = s / (T)div;
      }
    }
  }
}

template <class T, bool Adaptive>
void avg_like_bwd(char* ginp, const char* goutp, int64_t p0, int64_t p1, int64_t H, int64_t W, int64_t Ho,
                  int64_t Wo, const Pool2dParams& p) {
  T* gin = reinterpret_cast<T*>(ginp);
  const T* gout = reinterpret_cast<const T*>(goutp);
  auto hspan = [&](int64_t oh) { return Adaptive ? adaptive_span(oh, H, Ho) : avg_span(oh, H, p.kh, p.sh, p.ph); };
  auto wspan = [&](int64_t ow) { return Adaptive ? adaptive_span(ow, W, Wo) : avg_span(ow, W, p.kw, p.sw, p.pw); };
  if (Adaptive && Ho == 1 && Wo == 1) {
    for (int64_t pl = p0; pl < p1; ++pl) std::fill(gin + pl * H * W, gin + (pl + 1) * H * W, gout[pl] / (T)(H * W));
    return;
  }
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float> && !Adaptive) {
    if (is_2x2_fast(p) && 2 * Ho <= H && 2 * Wo <= W) {
      for (int64_t pl = p0; pl < p1; ++pl)
        avg2x2_bwd_plane_avx512(gin + pl * H * W, gout + pl * Ho * Wo, H, Ho, Wo, W,
                                p.divisor_override ? p.divisor_override : 4);
      return;
    }
  }
#endif
  T* rc = pool_scratch<T>(W, 1);
  for (int64_t pl = p0; pl < p1; ++pl) {
    T* gx = gin + pl * H * W;
    std::fill(gx, gx + H * W, T(0));
    for (int64_t oh = 0; oh < Ho; ++oh) {
      const T* g = gout + (pl * Ho + oh) * Wo;
      const PoolSpan hs = hspan(oh);
      if (hs.lo >= hs.hi) continue;
      std::fill(rc, rc + W, T(0));
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const PoolSpan ws = wspan(ow);
        if (ws.lo >= ws.hi) continue;
        const int64_t div = Adaptive ? (hs.hi - hs.lo) * (ws.hi - ws.lo)
                            : p.divisor_override ? p.divisor_override
                            : p.count_include_pad ? hs.full * ws.full
                                                  : (hs.hi - hs.lo) * (ws.hi - ws.lo);
        const T v = g[ow] / (T)div;
        for (int64_t w = ws.lo; w < ws.hi; ++w) rc[w] += v;
      }
      for (int64_t h = hs.lo; h < hs.hi; ++h) {
        T* r = gx + h * W;
        for (int64_t w = 0; w < W; ++w) r[w] += rc[w];
      }
    }
  }
}

void fill_pool_table(PoolTable& t) {
  t.fwd[0] = &max_pool_fwd<float>;
  t.fwd[1] = &max_pool_fwd<double>;
  t.bwd[0] = &max_pool_bwd<float>;
  t.bwd[1] = &max_pool_bwd<double>;
  t.avg_fwd[0] = &avg_like_fwd<float, false>;
  t.avg_fwd[1] = &avg_like_fwd<double, false>;
  t.avg_bwd[0] = &avg_like_bwd<float, false>;
  t.avg_bwd[1] = &avg_like_bwd<double, false>;
  t.adaptive_fwd[0] = &avg_like_fwd<float, true>;
  t.adaptive_fwd[1] = &avg_like_fwd<double, true>;
  t.adaptive_bwd[0] = &avg_like_bwd<float, true>;
  t.adaptive_bwd[1] = &avg_like_bwd<double, true>;
}

}  // namespace dlcore::DLCORE_ISA_NS
