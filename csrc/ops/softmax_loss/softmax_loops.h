// The softmax / log_softmax / cross-entropy loops, compiled once per ISA (the including file defines
// DLCORE_ISA_NS and DLCORE_VLEN). float32 rows use vecmath.h's vector exp/log when DLCORE_VLEN > 1; float64 and
// the scalar build use libm (the reference).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/parallel.h"
#include "ops/softmax_loss/softmax_tables.h"
#if DLCORE_VLEN > 1
#include "core/x86_intrin.h"

#include "ops/elementwise/vecmath.h"
#endif

namespace dlcore::DLCORE_ISA_NS {

// Columns processed together when the softmax dim is not the last (I > 1).
constexpr int64_t kColBlock = 256;

#if DLCORE_VLEN > 1
// Horizontal sum and max by halving trees (log2 kVLen shuffle + op steps): a lane-by-lane scalar chain was 16
// dependent 4-cycle adds, about 64 cycles on every row's critical path (the next pass waits for the scalar).
template <class Op>
DLCORE_ALWAYS_INLINE float hreduce(vf v, Op op) {
  typedef float v8 __attribute__((vector_size(32)));
  typedef float v4 __attribute__((vector_size(16)));
#if DLCORE_VLEN == 16
  v8 a = op(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7),
            __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
#else
  v8 a = v;
#endif
  v4 b = op(__builtin_shufflevector(a, a, 0, 1, 2, 3), __builtin_shufflevector(a, a, 4, 5, 6, 7));
  b = op(b, __builtin_shufflevector(b, b, 2, 3, 0, 1));
  b = op(b, __builtin_shufflevector(b, b, 1, 0, 3, 2));
  return b[0];
}
DLCORE_ALWAYS_INLINE float hsum(vf v) {
  return hreduce(v, [](auto a, auto b) { return a + b; });
}
DLCORE_ALWAYS_INLINE float hmax(vf v) {  // (NaN lanes: softmax rows with a NaN come out NaN through exp anyway)
  return hreduce(v, [](auto a, auto b) { return a > b ? a : b; });
}
#endif

#if DLCORE_VLEN > 1
// Lane-wise max without NaN bookkeeping (a NaN in a row makes the whole softmax row NaN through exp either way).
DLCORE_ALWAYS_INLINE vf vmax_fast(vf a, vf b) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  return (vf)_mm512_maskz_max_ps(0xffff, (__m512)a, (__m512)b);  // (maskz: vecmath.h's vexp says why)
#elif DLCORE_VLEN == 8 && defined(__AVX__)
  return (vf)_mm256_max_ps((__m256)a, (__m256)b);
#else
  return vmax(a, b);
#endif
}

// exp(x) for x <= 0 (the shifted logits x - max of softmax) as 2^t, t = x log2(e), t = n + f, 2^f by a degree-6
// polynomial (a minimax fit of relative error, 2e-9 before rounding; about 1 ulp after float32 Horner rounding),
// 2^n applied exactly. The rounding of t adds a relative error of ~|t| 6e-8: below 1.2e-6 for the outputs above
// 1e-6 that a relative tolerance sees. No overflow or NaN handling is needed here (x <= 0); NaN in gives NaN out.
// AVX-512: f = t - floor(t) in [0, 1) by one vreduceps and 2^floor(t) by vscalefps on t itself (it floors its
// scale operand): no rounding instruction, no subtraction and no clamp (reduce gives 0 for -inf and for any t too
// large to have a fraction, and scalef then underflows gradually to 0). 8 lanes: n = round(t), f in [-1/2, 1/2],
// n added to the exponent bits, 0 returned for t < -124 (x < -85.9, true value < 5e-38, below every tolerance
// against a row sum >= 1).
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
DLCORE_ALWAYS_INLINE vf exp2_poly(vf f) {  // 2^f, f in [0, 1)
  vf p = vsplat(2.1612914861179888e-4f);
  p = p * f + 1.2467845808714628e-3f;
  p = p * f + 9.675451554358006e-3f;
  p = p * f + 5.5485282093286514e-2f;
  p = p * f + 2.402293086051941e-1f;
  p = p * f + 6.931470632553101e-1f;
  return p * f + 1.0f;
}
DLCORE_ALWAYS_INLINE vf vexp_nonpos(vf x) {
  const __m512 t = _mm512_mul_ps((__m512)x, _mm512_set1_ps(1.44269504088896341f));
  // (maskz forms with a full mask: vecmath.h's vexp says why)
  const vf f = (vf)_mm512_maskz_reduce_ps(0xffff, t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  return (vf)_mm512_maskz_scalef_ps(0xffff, (__m512)exp2_poly(f), t);
}
#else
DLCORE_ALWAYS_INLINE vf exp2_poly(vf f) {  // 2^f, f in [-1/2, 1/2]
  vf p = vsplat(1.5469732170458883e-4f);
  p = p * f + 1.3400432653725147e-3f;
  p = p * f + 9.618025273084640e-3f;
  p = p * f + 5.550327152013779e-2f;
  p = p * f + 2.4022650718688965e-1f;
  p = p * f + 6.931471824645996e-1f;
  return p * f + 1.0f;
}
DLCORE_ALWAYS_INLINE vf vexp_nonpos(vf x) {
  vf t = x * 1.44269504088896341f;
  vi under = t < -124.0f;
  t = vselect(under, vsplat(-124.0f), t);  // NaN compares false and is kept
  vf n = vround(t);                         // in [-124, 0]: 2^n by an exponent add stays normal
  vf y = exp2_poly(t - n);
  vi ni = __builtin_convertvector(n, vi);
  vf e = as_float(as_int(y) + (ni << 23));
  return as_float(~under & as_int(e));
}
#endif

// The float32 softmax over rows [o0, o1) of length R (I == 1). Per row: a max pass, an exp pass (stores
// exp(x - m) and sums it in two vector accumulators), a scale pass (y *= 1 / sum; LOG: y = (x - m) - log sum, the
// exp pass then only sums). A row of a few thousand floats stays in L1 between the passes, so memory sees one read
// and one write; the max pass of the next row (reads from L2/L3) is fused into the scale pass of this row (L1 and
// stores), so the two overlap instead of running back to back. (Fusing further, the exp pass of row o with the
// scale pass of row o - 2 and the max pass of row o + 2 in one loop, measured 20-40% slower.)
DLCORE_ALWAYS_INLINE vf max_tail(vf vm, const float* x, int64_t R) {
  return vmax_fast(vm, vload(x + R - kVLen));  // the last whole vector overlaps lanes already seen: harmless for max
}

template <bool LOG>
float row_exp_sum_f32(float* DLCORE_RESTRICT y, const float* DLCORE_RESTRICT x, int64_t R, float m) {
  const vf vmv = vsplat(m);
  vf s0 = vsplat(0.0f), s1 = vsplat(0.0f);
  int64_t r = 0;
  for (; r + 2 * kVLen <= R; r += 2 * kVLen) {
    vf e0 = vexp_nonpos(vload(x + r) - vmv);
    vf e1 = vexp_nonpos(vload(x + r + kVLen) - vmv);
    if (!LOG) {
      vstore(y + r, e0);
      vstore(y + r + kVLen, e1);
    }
    s0 += e0;
    s1 += e1;
  }
  for (; r + kVLen <= R; r += kVLen) {
    vf e0 = vexp_nonpos(vload(x + r) - vmv);
    if (!LOG) vstore(y + r, e0);
    s0 += e0;
  }
  if (r < R) {  // tail: the last whole vector (R >= kVLen), the lanes summed already masked out of the sum
    const int32_t first_new = (int32_t)(kVLen - (R - r));
    vf e = vexp_nonpos(vload(x + R - kVLen) - vmv);
    vi lane;
    for (int j = 0; j < kVLen; ++j) lane[j] = j;
    if (!LOG) vstore(y + R - kVLen, e);  // rewrites the overlapped lanes with the same values
    s1 += as_float((lane >= first_new) & as_int(e));
  }
  return hsum(s0 + s1);
}

// Prefetches the 2 kVLen floats at p + r (nothing when p is null).
DLCORE_ALWAYS_INLINE void prefetch_pair(const float* p, int64_t r) {
  if (!p) return;
  _mm_prefetch((const char*)(p + r), _MM_HINT_T0);
  _mm_prefetch((const char*)(p + r + kVLen), _MM_HINT_T0);
}

template <bool LOG>
void softmax_rows_f32(float* DLCORE_RESTRICT y, const float* DLCORE_RESTRICT x, int64_t o0, int64_t o1, int64_t R) {
  if (R < kVLen) {  // short rows: libm like the scalar build
    for (int64_t o = o0; o < o1; ++o) {
      const float* xr = x + o * R;
      float* yr = y + o * R;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t r = 0; r < R; ++r) m = std::max(m, xr[r]);
      float s = 0;
      for (int64_t r = 0; r < R; ++r) s += std::exp(xr[r] - m);
      if (LOG) {
        const float ls = std::log(s);
        for (int64_t r = 0; r < R; ++r) yr[r] = log_softmax_of(xr[r], m, ls);
      } else {
        float inv = 1.0f / s;
        for (int64_t r = 0; r < R; ++r) yr[r] = std::exp(xr[r] - m) * inv;
      }
    }
    return;
  }
  // max of the first row
  vf vm0 = vload(x + o0 * R), vm1 = vm0;
  {
    const float* xr = x + o0 * R;
    int64_t r = kVLen;
    for (; r + 2 * kVLen <= R; r += 2 * kVLen) {
      vm0 = vmax_fast(vm0, vload(xr + r));
      vm1 = vmax_fast(vm1, vload(xr + r + kVLen));
    }
    for (; r + kVLen <= R; r += kVLen) vm0 = vmax_fast(vm0, vload(xr + r));
    vm0 = max_tail(vm0, xr, R);
  }
  for (int64_t o = o0; o < o1; ++o) {
    const float* xr = x + o * R;
    float* yr = y + o * R;
    const float m = hmax(vmax_fast(vm0, vm1));
    const float s = row_exp_sum_f32<LOG>(yr, xr, R, m);
    // scale this row; max of the next one (or of this one again on the last row: the result is unused)
    const float* xn = o + 1 < o1 ? xr + R : xr;
    // and the row after the next one prefetched into L1 (it streams in from L2/L3 while this row computes: measured
    // [256,1000] 1.12x faster at 1 thread, 1.08x at 2; prefetching y's next row for writing lost 20%)
    const float* xp = o + 2 < o1 ? xn + R : nullptr;
    vm0 = vload(xn);
    vm1 = vm0;
    int64_t r = 0;
    if (LOG) {
      const vf vmx = vsplat(m), ls = vsplat(std::log(s));  // y = (x - m) - log s: log_softmax_of
      for (; r + 2 * kVLen <= R; r += 2 * kVLen) {
        prefetch_pair(xp, r);
        vstore(yr + r, (vload(xr + r) - vmx) - ls);
        vstore(yr + r + kVLen, (vload(xr + r + kVLen) - vmx) - ls);
        vm0 = vmax_fast(vm0, vload(xn + r));
        vm1 = vmax_fast(vm1, vload(xn + r + kVLen));
      }
      for (; r + kVLen <= R; r += kVLen) {
        vstore(yr + r, (vload(xr + r) - vmx) - ls);
        vm0 = vmax_fast(vm0, vload(xn + r));
      }
      if (r < R) vstore(yr + R - kVLen, (vload(xr + R - kVLen) - vmx) - ls);  // same values on the overlapped lanes
    } else {
      const float invs = 1.0f / s;
      const vf inv = vsplat(invs);
      for (; r + 2 * kVLen <= R; r += 2 * kVLen) {
        prefetch_pair(xp, r);
        vstore(yr + r, vload(yr + r) * inv);
        vstore(yr + r + kVLen, vload(yr + r + kVLen) * inv);
        vm0 = vmax_fast(vm0, vload(xn + r));
        vm1 = vmax_fast(vm1, vload(xn + r + kVLen));
      }
      for (; r + kVLen <= R; r += kVLen) {
        vstore(yr + r, vload(yr + r) * inv);
        vm0 = vmax_fast(vm0, vload(xn + r));
      }
      for (int64_t k = r; k < R; ++k) yr[k] *= invs;  // in place: no overlapping vector here
    }
    vm0 = max_tail(vm0, xn, R);
  }
}

#endif

#if DLCORE_VLEN > 1
// The float32 softmax backward over rows [o0, o1) (I == 1, not LOG): gx = y (g - dot), dot = sum g y. The dot of
// the next row (g and y stream in from L2/L3) is accumulated inside this row's gx pass (its g and y are in L1).
inline void softmax_bwd_rows_f32(float* DLCORE_RESTRICT gx, const float* DLCORE_RESTRICT g,
                                 const float* DLCORE_RESTRICT y, int64_t o0, int64_t o1, int64_t R) {
  auto dot_row = [&](const float* gr, const float* yr) {
    vf s0 = vsplat(0.0f), s1 = s0;
    int64_t r = 0;
    for (; r + 2 * kVLen <= R; r += 2 * kVLen) {
      s0 += vload(gr + r) * vload(yr + r);
      s1 += vload(gr + r + kVLen) * vload(yr + r + kVLen);
    }
    float t = hsum(s0 + s1);
    for (; r < R; ++r) t += gr[r] * yr[r];
    return t;
  };
  float dot = dot_row(g + o0 * R, y + o0 * R);
  for (int64_t o = o0; o < o1; ++o) {
    const float* gr = g + o * R;
    const float* yr = y + o * R;
    float* xr = gx + o * R;
    const int64_t nx = o + 1 < o1 ? R : 0;  // the next row (this one again on the last row: result unused)
    const float* gn = gr + nx;
    const float* yn = yr + nx;
    const vf vd = vsplat(dot);
    vf s0 = vsplat(0.0f), s1 = s0;
    int64_t r = 0;
    for (; r + 2 * kVLen <= R; r += 2 * kVLen) {
      vstore(xr + r, vload(yr + r) * (vload(gr + r) - vd));
      vstore(xr + r + kVLen, vload(yr + r + kVLen) * (vload(gr + r + kVLen) - vd));
      s0 += vload(gn + r) * vload(yn + r);
      s1 += vload(gn + r + kVLen) * vload(yn + r + kVLen);
    }
    float t = hsum(s0 + s1);
    for (int64_t k = r; k < R; ++k) {
      xr[k] = yr[k] * (gr[k] - dot);
      t += gn[k] * yn[k];
    }
    dot = t;
  }
}
#endif

// max over a contiguous row (NaN-propagating is not needed: a NaN row gives NaN through exp anyway).
template <class T>
T row_max(const T* x, int64_t R) {
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>) {
    int64_t r = 0;
    float m = -std::numeric_limits<float>::infinity();
    if (R >= kVLen) {
      vf vm = vload(x);
      for (r = kVLen; r + kVLen <= R; r += kVLen) vm = vmax(vm, vload(x + r));
      m = hmax(vm);
    }
    for (; r < R; ++r) m = std::max(m, x[r]);
    return m;
  }
#endif
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < R; ++r) m = std::max(m, x[r]);
  return m;
}

// sum_r exp(x_r - m); when y is not null also stores exp(x_r - m) into y.
template <class T>
T row_sumexp(T* y, const T* x, int64_t R, T m) {
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>) {
    vf s = vsplat(0.0f);
    vf vm = vsplat(m);
    int64_t r = 0;
    for (; r + kVLen <= R; r += kVLen) {
      vf e = vexp(vload(x + r) - vm);
      if (y) vstore(y + r, e);
      s += e;
    }
    if (r < R) {
      float buf[kVLen];
      for (int j = 0; j < kVLen; ++j) buf[j] = -std::numeric_limits<float>::infinity();
      std::memcpy(buf, x + r, (R - r) * sizeof(float));
      vf e = vexp(vload(buf) - vm);
      e = vselect(vload(buf) == -std::numeric_limits<float>::infinity(), vsplat(0.0f), e);
      vstore(buf, e);
      if (y) std::memcpy(y + r, buf, (R - r) * sizeof(float));
      s += e;
    }
    return hsum(s);
  }
#endif
  T s = 0;
  for (int64_t r = 0; r < R; ++r) {
    T e = std::exp(x[r] - m);
    if (y) y[r] = e;
    s += e;
  }
  return s;
}

// y_r = exp(x_r - shift) * mul - sub_r, sub_r = sub ? sub[r] * sub_mul : sub_mul. Returns nothing.
template <class T>
void row_exp_affine(T* y, const T* x, int64_t R, T shift, T mul, const T* sub, T sub_mul) {
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>) {
    int64_t r = 0;
    vf vs = vsplat(shift);
    for (; r + kVLen <= R; r += kVLen) {
      vf e = vexp(vload(x + r) - vs) * mul;
      vf b = sub ? vload(sub + r) * sub_mul : vsplat(sub_mul);
      vstore(y + r, e - b);
    }
    for (; r < R; ++r) y[r] = std::exp(x[r] - shift) * mul - (sub ? sub[r] * sub_mul : sub_mul);
    return;
  }
#endif
  for (int64_t r = 0; r < R; ++r) y[r] = std::exp(x[r] - shift) * mul - (sub ? sub[r] * sub_mul : sub_mul);
}

// sum_r a_r * (b ? b_r : 1), vectorised with independent lane sums for float32.
template <class T>
T row_dot(const T* a, const T* b, int64_t R) {
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>) {
    vf s0 = vsplat(0.0f), s1 = vsplat(0.0f);
    int64_t r = 0;
    for (; r + 2 * kVLen <= R; r += 2 * kVLen) {
      s0 += b ? vload(a + r) * vload(b + r) : vload(a + r);
      s1 += b ? vload(a + r + kVLen) * vload(b + r + kVLen) : vload(a + r + kVLen);
    }
    float t = hsum(s0 + s1);
    for (; r < R; ++r) t += b ? a[r] * b[r] : a[r];
    return t;
  }
#endif
  T t = 0;
  for (int64_t r = 0; r < R; ++r) t += b ? a[r] * b[r] : a[r];
  return t;
}

template <class T>
void scale_row(T* y, int64_t R, T s) {
  for (int64_t r = 0; r < R; ++r) y[r] *= s;
}

// ---------------------------------------------------------------------------------------------- softmax forward

#if DLCORE_VLEN > 1
// The float32 softmax over the middle dim when it is not the last (I > 1: e.g. over the channels of NCHW): columns
// [0, n) of one outer index, xb/yb at (o, 0, i0), rows I apart; returns the columns done (whole vectors; the caller's
// scalar loop does the rest). Sub-blocks of kColVecs vectors of columns, so that a sub-block's R rows stay in L1
// across the three passes (R x 256 bytes with 16 lanes), the running max and sum in registers. (It was the scalar
// loop with std::exp: [32,64,28,28] over dim 1, 1 thread, 6.6 -> 0.67 ms; torch 1.6 ms.)
constexpr int kColVecs = 4;
template <bool LOG>
int64_t softmax_cols_f32(float* yb, const float* xb, int64_t R, int64_t I, int64_t n) {
  const int64_t nv = n / kVLen * kVLen;
  for (int64_t j0 = 0; j0 < nv; j0 += kColVecs * kVLen) {
    const int nvec = (int)std::min<int64_t>(kColVecs, (nv - j0) / kVLen);
    vf m[kColVecs], s[kColVecs];
    for (int v = 0; v < nvec; ++v) m[v] = vload(xb + j0 + v * kVLen);
    for (int64_t r = 1; r < R; ++r)
      for (int v = 0; v < nvec; ++v) m[v] = vmax_fast(m[v], vload(xb + r * I + j0 + v * kVLen));
    for (int v = 0; v < nvec; ++v) s[v] = vsplat(0.0f);
    for (int64_t r = 0; r < R; ++r)
      for (int v = 0; v < nvec; ++v) {
        const vf e = vexp_nonpos(vload(xb + r * I + j0 + v * kVLen) - m[v]);
        s[v] += e;
        if (!LOG) vstore(yb + r * I + j0 + v * kVLen, e);
      }
    if (LOG) {  // y = (x - m) - log s: log_softmax_of
      for (int v = 0; v < nvec; ++v) s[v] = vlog(s[v]);
      for (int64_t r = 0; r < R; ++r)
        for (int v = 0; v < nvec; ++v)
          vstore(yb + r * I + j0 + v * kVLen, (vload(xb + r * I + j0 + v * kVLen) - m[v]) - s[v]);
    } else {
      for (int v = 0; v < nvec; ++v) s[v] = 1.0f / s[v];
      for (int64_t r = 0; r < R; ++r)
        for (int v = 0; v < nvec; ++v) {
          float* p = yb + r * I + j0 + v * kVLen;
          vstore(p, vload(p) * s[v]);
        }
    }
  }
  return nv;
}

// Its backward: gx = y (g - sum_r g y) (LOG: g - exp(y) sum_r g); returns the columns done.
template <bool LOG>
int64_t softmax_bwd_cols_f32(float* gx, const float* g, const float* y, int64_t R, int64_t I, int64_t n) {
  const int64_t nv = n / kVLen * kVLen;
  for (int64_t j0 = 0; j0 < nv; j0 += kColVecs * kVLen) {
    const int nvec = (int)std::min<int64_t>(kColVecs, (nv - j0) / kVLen);
    vf s[kColVecs];
    for (int v = 0; v < nvec; ++v) s[v] = vsplat(0.0f);
    for (int64_t r = 0; r < R; ++r)
      for (int v = 0; v < nvec; ++v) {
        const int64_t k = r * I + j0 + v * kVLen;
        s[v] += LOG ? vload(g + k) : vload(g + k) * vload(y + k);
      }
    for (int64_t r = 0; r < R; ++r)
      for (int v = 0; v < nvec; ++v) {
        const int64_t k = r * I + j0 + v * kVLen;
        const vf gv = vload(g + k), yv = vload(y + k);
        vstore(gx + k, LOG ? gv - vexp(yv) * s[v] : yv * (gv - s[v]));
      }
  }
  return nv;
}
#endif

template <class T, bool LOG>
void softmax_fwd(char* yp, const char* xp, int64_t O, int64_t R, int64_t I) {
  T* y = reinterpret_cast<T*>(yp);
  const T* x = reinterpret_cast<const T*>(xp);
  if (I == 1) {
    parallel_for(0, O, std::max<int64_t>(1, 8192 / std::max<int64_t>(R, 1)), [&](int64_t o0, int64_t o1) {
#if DLCORE_VLEN > 1
      if constexpr (std::is_same_v<T, float>) {
        softmax_rows_f32<LOG>(y, x, o0, o1, R);
        return;
      }
#endif
      for (int64_t o = o0; o < o1; ++o) {
        const T* xr = x + o * R;
        T* yr = y + o * R;
        T m = row_max(xr, R);
        if (LOG) {
          T ls = std::log(row_sumexp<T>(nullptr, xr, R, m));
          for (int64_t r = 0; r < R; ++r) yr[r] = log_softmax_of(xr[r], m, ls);
        } else {
          T s = row_sumexp<T>(yr, xr, R, m);
          scale_row(yr, R, T(1) / s);
        }
      }
    });
    return;
  }
  int64_t nb = (I + kColBlock - 1) / kColBlock;
  parallel_for(0, O * nb, std::max<int64_t>(1, 32 / std::max<int64_t>(R, 1)), [&](int64_t b0, int64_t b1) {
    T m[kColBlock], s[kColBlock];
    for (int64_t b = b0; b < b1; ++b) {
      int64_t o = b / nb, i0 = (b % nb) * kColBlock, n = std::min(kColBlock, I - i0);
      const T* xb = x + o * R * I + i0;
      T* yb = y + o * R * I + i0;
#if DLCORE_VLEN > 1
      if constexpr (std::is_same_v<T, float>) {  // whole vectors of columns; the rest below
        const int64_t done = softmax_cols_f32<LOG>(yb, xb, R, I, n);
        xb += done;
        yb += done;
        n -= done;
        if (n == 0) continue;
      }
#endif
      for (int64_t j = 0; j < n; ++j) m[j] = xb[j];
      for (int64_t r = 1; r < R; ++r)
        for (int64_t j = 0; j < n; ++j) m[j] = std::max(m[j], xb[r * I + j]);
      for (int64_t j = 0; j < n; ++j) s[j] = 0;
      for (int64_t r = 0; r < R; ++r) {
        const T* xr = xb + r * I;
        T* yr = yb + r * I;
        for (int64_t j = 0; j < n; ++j) {
          T e = std::exp(xr[j] - m[j]);
          s[j] += e;
          if (!LOG) yr[j] = e;
        }
      }
      if (LOG) {
        for (int64_t j = 0; j < n; ++j) s[j] = std::log(s[j]);
        for (int64_t r = 0; r < R; ++r)
          for (int64_t j = 0; j < n; ++j) yb[r * I + j] = log_softmax_of(xb[r * I + j], m[j], s[j]);
      } else {
        for (int64_t j = 0; j < n; ++j) s[j] = T(1) / s[j];
        for (int64_t r = 0; r < R; ++r)
          for (int64_t j = 0; j < n; ++j) yb[r * I + j] *= s[j];
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------- softmax backward

template <class T, bool LOG>
void softmax_bwd(char* gxp, const char* gp, const char* yp, int64_t O, int64_t R, int64_t I) {
  T* gx = reinterpret_cast<T*>(gxp);
  const T* g = reinterpret_cast<const T*>(gp);
  const T* y = reinterpret_cast<const T*>(yp);
  if (I == 1) {
    parallel_for(0, O, std::max<int64_t>(1, 8192 / std::max<int64_t>(R, 1)), [&](int64_t o0, int64_t o1) {
#if DLCORE_VLEN > 1
      if constexpr (std::is_same_v<T, float> && !LOG) {
        softmax_bwd_rows_f32(gx, g, y, o0, o1, R);
        return;
      }
#endif
      for (int64_t o = o0; o < o1; ++o) {
        const T* gr = g + o * R;
        const T* yr = y + o * R;
        T* xr = gx + o * R;
        if (LOG) {
          T sg = row_dot<T>(gr, nullptr, R);
          // gx = g - exp(y) * sum(g)
          row_exp_affine<T>(xr, yr, R, T(0), -sg, nullptr, T(0));
          for (int64_t r = 0; r < R; ++r) xr[r] += gr[r];
        } else {
          T dot = row_dot<T>(gr, yr, R);
          for (int64_t r = 0; r < R; ++r) xr[r] = yr[r] * (gr[r] - dot);
        }
      }
    });
    return;
  }
  int64_t nb = (I + kColBlock - 1) / kColBlock;
  parallel_for(0, O * nb, std::max<int64_t>(1, 32 / std::max<int64_t>(R, 1)), [&](int64_t b0, int64_t b1) {
    T s[kColBlock];
    for (int64_t b = b0; b < b1; ++b) {
      int64_t o = b / nb, i0 = (b % nb) * kColBlock, n = std::min(kColBlock, I - i0);
      int64_t base = o * R * I + i0;
#if DLCORE_VLEN > 1
      if constexpr (std::is_same_v<T, float>) {  // whole vectors of columns; the rest below
        const int64_t done = softmax_bwd_cols_f32<LOG>(gx + base, g + base, y + base, R, I, n);
        base += done;
        n -= done;
        if (n == 0) continue;
      }
#endif
      for (int64_t j = 0; j < n; ++j) s[j] = 0;
      for (int64_t r = 0; r < R; ++r)
        for (int64_t j = 0; j < n; ++j) s[j] += LOG ? g[base + r * I + j] : g[base + r * I + j] * y[base + r * I + j];
      for (int64_t r = 0; r < R; ++r)
        for (int64_t j = 0; j < n; ++j) {
          int64_t k = base + r * I + j;
          gx[k] = LOG ? g[k] - std::exp(y[k]) * s[j] : y[k] * (g[k] - s[j]);
        }
    }
  });
}

// ---------------------------------------------------------------------------------------------- cross-entropy

template <class T>
void ce_fwd(char* lossp, char* wtp, char* lsep, const char* xp, const int64_t* target, const char* wp, int64_t N,
            int64_t C, const CrossEntropyArgs& a) {
  T* loss = reinterpret_cast<T*>(lossp);
  T* wt = reinterpret_cast<T*>(wtp);
  T* lse_out = reinterpret_cast<T*>(lsep);
  const T* x = reinterpret_cast<const T*>(xp);
  const T* w = reinterpret_cast<const T*>(wp);
  const T eps = (T)a.label_smoothing;
  T wsum = (T)C;  // sum_c w_c (label smoothing's weight total)
  if (w && eps != T(0)) wsum = row_dot<T>(w, nullptr, C);
  parallel_for(0, N, std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1)), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const T* xr = x + n * C;
      T m = row_max(xr, C);
      T ls = std::log(row_sumexp<T>(nullptr, xr, C, m));
      lse_out[2 * n] = m;
      lse_out[2 * n + 1] = ls;
      int64_t t = target[n];
      if (t == a.ignore_index) {
        loss[n] = 0;
        wt[n] = 0;
        continue;
      }
      T wtn = w ? w[t] : T(1);
      T l = (T(1) - eps) * wtn * nll_of_logit(xr[t], m, ls);
      if (eps != T(0)) {
        // sum_c w_c (ls - (x_c - m)) = W ls - (sum_c w_c x_c - W m): one vectorised dot instead of a serial sum
        // of C terms (its add latency was most of a smoothed loss: [256,1000] 204 -> ~75 us)
        const T sm = wsum * ls - (row_dot<T>(xr, w, C) - wsum * m);
        l += eps / (T)C * sm;
      }
      loss[n] = l;
      wt[n] = wtn;
    }
  });
}

template <class T>
void ce_bwd(char* gxp, const char* gp, int64_t gstride, double scale, const char* xp, const char* lsep,
            const int64_t* target, const char* wp, int64_t N, int64_t C, const CrossEntropyArgs& a) {
  T* gx = reinterpret_cast<T*>(gxp);
  const T* g = reinterpret_cast<const T*>(gp);
  const T* x = reinterpret_cast<const T*>(xp);
  const T* lse = reinterpret_cast<const T*>(lsep);
  const T* w = reinterpret_cast<const T*>(wp);
  const T eps = (T)a.label_smoothing;
  T W = (T)C;
  if (w) {
    W = 0;
    for (int64_t c = 0; c < C; ++c) W += w[c];
  }
  parallel_for(0, N, std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1)), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      T* gr = gx + n * C;
      int64_t t = target[n];
      if (t == a.ignore_index) {
        std::memset(gr, 0, C * sizeof(T));
        continue;
      }
      T gn = g[n * gstride] * (T)scale;
      T wtn = w ? w[t] : T(1);
      T A = ((T(1) - eps) * wtn + eps * W / (T)C) * gn;
      // gx_c = gn (p_c A' - (e / C) w_c) - gn (1 - e) w_t [c == t]
      // p_c A = exp(x_c - m) (A / s), 1 / s = exp(-ls): no m + ls (it would lose the precision again)
      row_exp_affine<T>(gr, x + n * C, C, lse[2 * n], A * std::exp(-lse[2 * n + 1]), w, eps / (T)C * gn);
      gr[t] -= (T(1) - eps) * wtn * gn;
    }
  });
}

#if DLCORE_VLEN > 1
// ---- binary cross-entropy, float32 (the formulas of softmax_loss.h's pw_loss_fwd / pw_loss_bwd, vectorised)
DLCORE_ALWAYS_INLINE vf load_or(const float* p, int64_t i, float one) { return p ? vload(p + i) : vsplat(one); }

template <bool LOGITS>
DLCORE_ALWAYS_INLINE vf bce_fwd_vec(vf x, vf y, vf w, vf pw) {
  if constexpr (LOGITS) {  // w ((1 - y) x - lw log_sigmoid(x)), lw = 1 + (pw - 1) y
    const vf lw = 1.0f + (pw - 1.0f) * y;
    const vf ls = -(vlog1p(vexp(-vabs(x))) + vmax(-x, vsplat(0.0f)));  // log_sigmoid, stable
    return w * ((1.0f - y) * x - lw * ls);
  } else {  // -w (y max(log x, -100) + (1 - y) max(log1p(-x), -100))
    const vf lx = vmax(vlog(x), vsplat(-100.0f)), l1x = vmax(vlog1p(-x), vsplat(-100.0f));
    return -w * (y * lx + (1.0f - y) * l1x);
  }
}
template <bool LOGITS>
DLCORE_ALWAYS_INLINE vf bce_bwd_vec(vf x, vf y, vf w, vf pw) {
  if constexpr (LOGITS) {  // w ((1 - y) - lw (1 - sigmoid(x))), 1 - sigmoid(x) = e^-x / (1 + e^-x) (stable form)
    const vf lw = 1.0f + (pw - 1.0f) * y;
    const vf t = vexp(-vabs(x));
    const vf one_minus_s = vselect(x >= 0.0f, t, vsplat(1.0f)) / (1.0f + t);
    return w * ((1.0f - y) - lw * one_minus_s);
  } else {
    const vf den = (1.0f - x) * x;
    return w * (x - y) / vselect(den > 1e-12f, den, vsplat(1e-12f));
  }
}

// The n < kVLen elements at i as vectors, padded with x = 0.5, y = 0, w = pw = 1 (finite in every formula).
struct BceTail {
  vf x, y, w, pw;
  BceTail(const float* xp, const float* yp, const float* wp, const float* pwp, int64_t i, int64_t n) {
    alignas(64) float bx[kVLen], by[kVLen], bw[kVLen], bp[kVLen];
    for (int64_t l = 0; l < kVLen; ++l) {
      bx[l] = l < n ? xp[i + l] : 0.5f;
      by[l] = l < n ? yp[i + l] : 0.0f;
      bw[l] = l < n && wp ? wp[i + l] : 1.0f;
      bp[l] = l < n && pwp ? pwp[i + l] : 1.0f;
    }
    x = vload(bx), y = vload(by), w = vload(bw), pw = vload(bp);
  }
};

// Elements [i0, i1); the tail through BceTail.
template <bool LOGITS>
void bce_fwd_f32(float* o, const float* x, const float* y, const float* w, const float* pw, int64_t i0, int64_t i1) {
  int64_t i = i0;
  for (; i + kVLen <= i1; i += kVLen)
    vstore(o + i, bce_fwd_vec<LOGITS>(vload(x + i), vload(y + i), load_or(w, i, 1.0f), load_or(pw, i, 1.0f)));
  if (i < i1) {
    alignas(64) float bo[kVLen];
    const BceTail t(x, y, w, pw, i, i1 - i);
    vstore(bo, bce_fwd_vec<LOGITS>(t.x, t.y, t.w, t.pw));
    std::memcpy(o + i, bo, (i1 - i) * sizeof(float));
  }
}

template <bool LOGITS>
void bce_bwd_f32(float* o, const float* g, int64_t gs, float scale, const float* x, const float* y, const float* w,
                 const float* pw, int64_t i0, int64_t i1) {
  const float g0 = g ? g[0] * scale : scale;
  int64_t i = i0;
  for (; i + kVLen <= i1; i += kVLen) {
    const vf gv = g && gs ? vload(g + i) * scale : vsplat(g0);
    vstore(o + i,
           bce_bwd_vec<LOGITS>(vload(x + i), vload(y + i), load_or(w, i, 1.0f), load_or(pw, i, 1.0f)) * gv);
  }
  if (i < i1) {
    alignas(64) float bg[kVLen], bo[kVLen];
    const int64_t n = i1 - i;
    for (int64_t l = 0; l < kVLen; ++l) bg[l] = l < n && g && gs ? g[(i + l) * gs] * scale : g0;
    const BceTail t(x, y, w, pw, i, n);
    vstore(bo, bce_bwd_vec<LOGITS>(t.x, t.y, t.w, t.pw) * vload(bg));
    std::memcpy(o + i, bo, n * sizeof(float));
  }
}
#endif

void fill_softmax_table(SoftmaxTable& t) {
#if DLCORE_VLEN > 1
  t.bce_fwd[0] = &bce_fwd_f32<false>;
  t.bce_fwd[1] = &bce_fwd_f32<true>;
  t.bce_bwd[0] = &bce_bwd_f32<false>;
  t.bce_bwd[1] = &bce_bwd_f32<true>;
#endif
  t.fwd[0][0] = &softmax_fwd<float, false>;
  t.fwd[0][1] = &softmax_fwd<double, false>;
  t.fwd[1][0] = &softmax_fwd<float, true>;
  t.fwd[1][1] = &softmax_fwd<double, true>;
  t.bwd[0][0] = &softmax_bwd<float, false>;
  t.bwd[0][1] = &softmax_bwd<double, false>;
  t.bwd[1][0] = &softmax_bwd<float, true>;
  t.bwd[1][1] = &softmax_bwd<double, true>;
  t.ce_fwd[0] = &ce_fwd<float>;
  t.ce_fwd[1] = &ce_fwd<double>;
  t.ce_bwd[0] = &ce_bwd<float>;
  t.ce_bwd[1] = &ce_bwd<double>;
}

}  // namespace dlcore::DLCORE_ISA_NS
