// CPU reduction loops, compiled once per ISA (see elementwise_loops.h for the scheme): the including file defines
// DLCORE_ISA_NS and DLCORE_VLEN and gets fill_reduce_table() in dlcore::DLCORE_ISA_NS.
#pragma once
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/parallel.h"
#include "ops/reduce/reduce_table.h"
#if DLCORE_VLEN == 16
#include "core/x86_intrin.h"
#endif

namespace dlcore::DLCORE_ISA_NS {

template <ReduceOp OP, class T>
struct Reducer {
  static DLCORE_ALWAYS_INLINE T init() {
    if constexpr (OP == ReduceOp::Sum) return T(0);
    else if constexpr (OP == ReduceOp::Prod) return T(1);
    else if constexpr (OP == ReduceOp::Max) {
      if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
      else return std::numeric_limits<T>::lowest();
    } else if constexpr (OP == ReduceOp::Min) {
      if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
      else return std::numeric_limits<T>::max();
    } else if constexpr (OP == ReduceOp::Any) return false;
    else return true;
  }
  static DLCORE_ALWAYS_INLINE T combine(T a, T b) {
    if constexpr (OP == ReduceOp::Sum) return (T)(a + b);
    else if constexpr (OP == ReduceOp::Prod) return (T)(a * b);
    else if constexpr (OP == ReduceOp::Max) return max_propagate_nan(a, b);
    else if constexpr (OP == ReduceOp::Min) return min_propagate_nan(a, b);
    else if constexpr (OP == ReduceOp::Any) return a || b;
    else return a && b;
  }
};

// Accumulator type of a row: float sums combine their blocks in double.
template <ReduceOp OP, class T>
using RowAcc = std::conditional_t<(OP == ReduceOp::Sum || OP == ReduceOp::Prod) && std::is_same_v<T, float>, double, T>;

// float sums of a contiguous run: in P = 64 independent lanes, each adding four elements in float, pairwise
// ((a + b) + (c + d): two roundings on values of one size), then that partial in double; the lanes folded pairwise
// at the end. The float lanes of the general loop below summed 64 elements each and then the 64 lanes in float:
// ~4e-7 relative error on 10^6 values near 1000 (rounding biased on such data), which made var() of that data 3x
// too large (torch's cascade: 1e-8; now 1.2e-8 too). Four floats per double add keep the conversions cheap (every
// element converted to double ran the 2^20-element sum 1.35x slower than the float loop).
// Sq: the squares of the elements instead (sumsq_row_f32).
template <bool Sq = false>
inline double sum_row_f32(const float* x, int64_t n) {
  constexpr int P = 64;
  auto e = [x](int64_t k) { return Sq ? x[k] * x[k] : x[k]; };
  double acc[P];
  for (int j = 0; j < P; ++j) acc[j] = 0.0;
  int64_t i = 0;
  for (; i + 4 * P <= n; i += 4 * P)
    for (int j = 0; j < P; ++j) acc[j] += (double)((e(i + j) + e(i + P + j)) + (e(i + 2 * P + j) + e(i + 3 * P + j)));
  for (; i + P <= n; i += P)
    for (int j = 0; j < P; ++j) acc[j] += (double)e(i + j);
  for (int j = 0; i + j < n; ++j) acc[j] += (double)e(i + j);
  for (int w = P / 2; w > 0; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0];
}

#if DLCORE_VLEN == 16 && defined(__AVX512F__)
// float32 max (IsMax) or min of a contiguous run: vmaxps/vminps into four accumulators (no NaN test per element; the
// generic loop below, compare-and-select with a NaN test per element, ran [256,1000].amax(1) at 53 us against
// torch's 18), NaNs flagged by one unordered compare per pair of vectors: a run holding a NaN gives NaN, as
// max_propagate_nan does. nan_at (when given) receives whether there was one. The row's ragged end by a masked
// load filled with the identity. (Zeros of both signs compare equal: which one is returned may differ from the scalar
// loop.)
template <bool IsMax>
inline float maxmin_row_f32(const float* x, int64_t n, bool* nan_at = nullptr) {
  const float id = IsMax ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  const __m512 vid = _mm512_set1_ps(id);
  auto op = [](__m512 a, __m512 b) { return IsMax ? _mm512_max_ps(a, b) : _mm512_min_ps(a, b); };
  __m512 a0 = vid, a1 = vid, a2 = vid, a3 = vid;
  __mmask16 nan = 0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
    const __m512 v2 = _mm512_loadu_ps(x + i + 32), v3 = _mm512_loadu_ps(x + i + 48);
    nan |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(v2, v3, _CMP_UNORD_Q);
    a0 = op(a0, v0), a1 = op(a1, v1), a2 = op(a2, v2), a3 = op(a3, v3);
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    a0 = op(a0, v);
  }
  if (i < n) {
    const __m512 v = _mm512_mask_loadu_ps(vid, (__mmask16)((1u << (n - i)) - 1), x + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    a1 = op(a1, v);
  }
  if (nan_at) *nan_at = nan != 0;
  if (nan) return std::numeric_limits<float>::quiet_NaN();
  const __m512 a = op(op(a0, a1), op(a2, a3));
  return IsMax ? _mm512_reduce_max_ps(a) : _mm512_reduce_min_ps(a);
}

// The index of the first maximum (IsMax) or minimum of a contiguous float32 run (n >= 1), NaN winning (its first
// index), as the scalar arg_kernel: the extreme value by maxmin_row_f32, then the first element equal to it (or the
// first NaN) by one compare per vector, stopping there.
template <bool IsMax>
inline int64_t argmaxmin_row_f32(const float* x, int64_t n) {
  bool has_nan = false;
  const float m = maxmin_row_f32<IsMax>(x, n, &has_nan);
  const __m512 vm = _mm512_set1_ps(m);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __mmask16 hit = has_nan ? _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) : _mm512_cmp_ps_mask(v, vm, _CMP_EQ_OQ);
    if (hit) return i + __builtin_ctz((unsigned)hit);
  }
  for (; i < n; ++i)
    if (has_nan ? x[i] != x[i] : x[i] == m) return i;
  return 0;  // (not reached)
}

// argmax/argmin over contiguous rows (I == 1; the table's entry for float32: other layouts take reduce_cpu.cpp's
// scalar arg_kernel): out is int64 [O].
template <bool IsMax>
void arg_rows_f32(const char* in, char* outp, int64_t O, int64_t R, int64_t I) {
  const float* x = reinterpret_cast<const float*>(in);
  int64_t* out = reinterpret_cast<int64_t*>(outp);
  (void)I;
  parallel_for(0, O, std::max<int64_t>(1, 16384 / std::max<int64_t>(R, 1)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) out[o] = argmaxmin_row_f32<IsMax>(x + o * R, R);
  });
}
#endif

#if DLCORE_VLEN == 16 && defined(__AVX512F__)
// sum_row_f32's scheme with AVX-512 registers: four float vectors added pairwise ((a + b) + (c + d): each lane the sum
// of four elements, as there), then widened to double into four double accumulators; the last < 64 elements as
// whole vectors widened directly and a masked ragged end (zeros). The generic loop spent most of a short row in
// its 64-double setup and fold: [256,1000].sum(1) 17 us against torch's 12.
// Sq: the squares of the elements instead (sumsq_row_f32).
template <bool Sq = false>
inline double sum_row_f32_avx512(const float* x, int64_t n) {
  __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  auto widen_add = [](__m512d& lo, __m512d& hi, __m512 f) {
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(f)));
    hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(f, 1)));
  };
  auto ld = [](const float* p) {
    const __m512 v = _mm512_loadu_ps(p);
    return Sq ? _mm512_mul_ps(v, v) : v;
  };
  auto four = [&](const float* p) {
    return _mm512_add_ps(_mm512_add_ps(ld(p), ld(p + 16)), _mm512_add_ps(ld(p + 32), ld(p + 48)));
  };
  int64_t i = 0;
  for (; i + 128 <= n; i += 128) {
    widen_add(a0, a1, four(x + i));
    widen_add(a2, a3, four(x + i + 64));
  }
  for (; i + 64 <= n; i += 64) widen_add(a0, a1, four(x + i));
  for (; i + 16 <= n; i += 16) widen_add(a2, a3, ld(x + i));
  if (i < n) {
    const __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1), x + i);
    widen_add(a2, a3, Sq ? _mm512_mul_ps(v, v) : v);
  }
  alignas(64) double t[8];  // (not _mm512_reduce_add_pd: its undefined passthrough draws GCC 12's -Wuninitialized)
  _mm512_store_pd(t, _mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
  return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}
#endif

// Sum of squares of a contiguous float32 run (sumsq_rows: the 2-norm without the squared temporary): sum_row_f32's
// scheme on the squares.
inline double sumsq_row_f32(const float* x, int64_t n) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  return sum_row_f32_avx512<true>(x, n);
#else
  return sum_row_f32<true>(x, n);
#endif
}

// Reduces x[0:n] (contiguous). P independent partial results (a multiple of the vector width) let the compiler
// keep several vector accumulators; each block of up to 64 P elements is folded into the wide accumulator.
template <ReduceOp OP, class T>
RowAcc<OP, T> reduce_row(const T* x, int64_t n) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  if constexpr (OP == ReduceOp::Sum && std::is_same_v<T, float>) return sum_row_f32_avx512(x, n);
  if constexpr ((OP == ReduceOp::Max || OP == ReduceOp::Min) && std::is_same_v<T, float>)
    return maxmin_row_f32<OP == ReduceOp::Max>(x, n);
#endif
  if constexpr (OP == ReduceOp::Sum && std::is_same_v<T, float>) return sum_row_f32(x, n);
  using R = Reducer<OP, T>;
  using A = RowAcc<OP, T>;
  constexpr int P = std::max<int>(4 * 64 / (int)sizeof(T), 4);
  A total = (A)R::init();
  int64_t i = 0;
  while (i + P <= n) {
    T part[P];
    for (int j = 0; j < P; ++j) part[j] = R::init();
    int64_t stop = std::min<int64_t>(n - P, i + (int64_t)P * 63);
    for (; i <= stop; i += P)
      for (int j = 0; j < P; ++j) part[j] = R::combine(part[j], x[i + j]);
    T block = part[0];
    for (int j = 1; j < P; ++j) block = R::combine(block, part[j]);
    if constexpr (std::is_same_v<A, T>) total = R::combine(total, block);
    else total = (OP == ReduceOp::Sum) ? total + (A)block : total * (A)block;
  }
  for (; i < n; ++i) {
    if constexpr (std::is_same_v<A, T>) total = R::combine(total, x[i]);
    else total = (OP == ReduceOp::Sum) ? total + (A)x[i] : total * (A)x[i];
  }
  return total;
}

// out[i] = reduce_r x[r * I + i] for i in [i0, i1): rows are combined into out elementwise (vectorised over i).
// float32 sums accumulate in double over all rows (pairwise groups of four rows in float first), a chunk of columns
// at a time; float64 sums go through a block
// accumulator added into out every 64 rows (a two-level cascade).
template <ReduceOp OP, class T>
void reduce_cols(const T* x, T* out, int64_t R, int64_t I, int64_t i0, int64_t i1) {
  using Rd = Reducer<OP, T>;
  if constexpr (OP == ReduceOp::Sum && std::is_same_v<T, float>) {
    constexpr int64_t kChunk = 256;
    for (int64_t c0 = i0; c0 < i1; c0 += kChunk) {
      const int64_t c1 = std::min(i1, c0 + kChunk);
      double acc[kChunk];
      for (int64_t i = c0; i < c1; ++i) acc[i - c0] = 0.0;
      // rows four at a time added pairwise in float, then in double (the row sums' scheme: sum_row_f32):
      // 7 instead of 16 vector operations per 4 rows of 16 columns ([32,64,28,28] mean(1): 121 -> ~80 us)
      int64_t r = 0;
      for (; r + 4 <= R; r += 4) {
        const float *x0 = x + r * I, *x1 = x0 + I, *x2 = x1 + I, *x3 = x2 + I;
        for (int64_t i = c0; i < c1; ++i) acc[i - c0] += (double)((x0[i] + x1[i]) + (x2[i] + x3[i]));
      }
      for (; r < R; ++r) {
        const float* row = x + r * I;
        for (int64_t i = c0; i < c1; ++i) acc[i - c0] += (double)row[i];
      }
      for (int64_t i = c0; i < c1; ++i) out[i] = (float)acc[i - c0];
    }
    return;
  }
  for (int64_t i = i0; i < i1; ++i) out[i] = Rd::init();
  constexpr int64_t kBlock = 64;
  for (int64_t r0 = 0; r0 < R; r0 += kBlock) {
    int64_t r1 = std::min(R, r0 + kBlock);
    if constexpr (OP == ReduceOp::Sum && std::is_floating_point_v<T>) {
      constexpr int64_t kChunk = 512;
      for (int64_t c0 = i0; c0 < i1; c0 += kChunk) {
        int64_t c1 = std::min(i1, c0 + kChunk);
        T acc[kChunk];
        for (int64_t i = c0; i < c1; ++i) acc[i - c0] = T(0);
        for (int64_t r = r0; r < r1; ++r) {
          const T* row = x + r * I;
          for (int64_t i = c0; i < c1; ++i) acc[i - c0] += row[i];
        }
        for (int64_t i = c0; i < c1; ++i) out[i] += acc[i - c0];
      }
    } else {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = x + r * I;
        for (int64_t i = i0; i < i1; ++i) out[i] = Rd::combine(out[i], row[i]);
      }
    }
  }
}

// O contiguous rows of Rn elements reduced to out(o, row(p, n)) (row: the result of the run p[0:n]): rows over
// threads, or, for few long rows, each row split across the threads and its parts' results joined by combine (the
// parts past the threads actually running filled with init).
template <class A, class Row, class Join, class Out>
void reduce_rows(int64_t O, int64_t Rn, const Row& row, const Join& combine, A init, const Out& out) {
  const int nt = get_num_threads();
  if (O >= nt || O * Rn < 65536) {
    parallel_for(0, O, std::max<int64_t>(1, 32768 / std::max<int64_t>(Rn, 1)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) out(o, row(o * Rn, Rn));
    });
    return;
  }
  for (int64_t o = 0; o < O; ++o) {
    A partial[64];
    const int parts = std::min(nt, 64);
    parallel_run(parts, [&](int tid, int ntr) {
      const int64_t lo = Rn * tid / ntr, hi = Rn * (tid + 1) / ntr;
      partial[tid] = row(o * Rn + lo, hi - lo);
      if (ntr < parts && tid == 0)
        for (int k = ntr; k < parts; ++k) partial[k] = init;
    });
    A tot = partial[0];
    for (int k = 1; k < parts; ++k) tot = combine(tot, partial[k]);
    out(o, tot);
  }
}

template <ReduceOp OP, class T>
void reduce_kernel(const char* in, char* outp, int64_t O, int64_t Rn, int64_t I) {
  const T* x = reinterpret_cast<const T*>(in);
  T* out = reinterpret_cast<T*>(outp);
  using Rd = Reducer<OP, T>;
  int nt = get_num_threads();
  if (I == 1) {
    using A = RowAcc<OP, T>;
    reduce_rows<A>(
        O, Rn, [&](int64_t off, int64_t n) { return reduce_row<OP, T>(x + off, n); },
        [](A a, A b) {
          if constexpr (std::is_same_v<A, T>) return Rd::combine(a, b);
          else return (OP == ReduceOp::Sum) ? a + b : a * b;
        },
        (A)Rd::init(), [&](int64_t o, A v) { out[o] = (T)v; });
    return;
  }
  if (O >= nt || O * Rn * I < 65536) {
    parallel_for(0, O, std::max<int64_t>(1, 32768 / std::max<int64_t>(Rn * I, 1)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) reduce_cols<OP, T>(x + o * Rn * I, out + o * I, Rn, I, 0, I);
    });
  } else {
    for (int64_t o = 0; o < O; ++o)
      parallel_for(0, I, 256, [&](int64_t i0, int64_t i1) {
        reduce_cols<OP, T>(x + o * Rn * I, out + o * I, Rn, I, i0, i1);
      });
  }
}

template <class T>
void fill_for_type(ReduceTable& t) {
  constexpr int d = (int)dtype_of<T>::value;
  if constexpr (std::is_same_v<T, bool>) {
    t.fn[(int)ReduceOp::Any][d] = &reduce_kernel<ReduceOp::Any, bool>;
    t.fn[(int)ReduceOp::All][d] = &reduce_kernel<ReduceOp::All, bool>;
    t.fn[(int)ReduceOp::Max][d] = &reduce_kernel<ReduceOp::Any, bool>;  // max of bools = any
    t.fn[(int)ReduceOp::Min][d] = &reduce_kernel<ReduceOp::All, bool>;
  } else {
    if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, int64_t>) {
      t.fn[(int)ReduceOp::Sum][d] = &reduce_kernel<ReduceOp::Sum, T>;
      t.fn[(int)ReduceOp::Prod][d] = &reduce_kernel<ReduceOp::Prod, T>;
    }
    t.fn[(int)ReduceOp::Max][d] = &reduce_kernel<ReduceOp::Max, T>;
    t.fn[(int)ReduceOp::Min][d] = &reduce_kernel<ReduceOp::Min, T>;
  }
}

void fill_reduce_table(ReduceTable& t) {
  t.sumsq_row_f32 = &sumsq_row_f32;
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  t.fn[(int)ReduceOp::ArgMax][(int)DType::Float32] = &arg_rows_f32<true>;
  t.fn[(int)ReduceOp::ArgMin][(int)DType::Float32] = &arg_rows_f32<false>;
#endif
  fill_for_type<bool>(t);
  fill_for_type<uint8_t>(t);
#if DLCORE_VLEN == 1
  fill_for_type<int8_t>(t);  // int8/int16: the portable loops only (elementwise_loops.h says why)
  fill_for_type<int16_t>(t);
#endif
  fill_for_type<int32_t>(t);
  fill_for_type<int64_t>(t);
  fill_for_type<float>(t);
  fill_for_type<double>(t);
}

}  // namespace dlcore::DLCORE_ISA_NS
