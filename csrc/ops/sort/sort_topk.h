// topk for small k by a threshold scan, compiled once per ISA (the including file defines DLCORE_ISA_NS and
// DLCORE_VLEN: 1 scalar, 8 avx2, 16 avx512).
//
// Each line keeps its best k so far in a small buffer in sort order (the k-th is the threshold). The line is scanned
// in vector blocks: one compare of a block against the threshold gives the lanes that may beat it (usually none);
// only those are checked exactly and inserted (insertion sort, k <= kTopkScanMaxK). The order is the sort's
// (sort_before): descending (largest) or ascending, NaN above every number, equal keys in index order. A later
// element never wins a tie, so "beats the k-th" is a strict compare; NaN by the unordered compare predicates:
//   largest:  candidate = !(x <= t)  (x > t, or x NaN);  t = +inf while the k-th is NaN (nothing beats it then,
//             the NaN lanes are refused by the exact check)
//   smallest: candidate = !(x >= t)  (x < t, or x or t NaN: while the k-th is NaN every number beats it)
// The candidate test is a superset of the exact one (better() below), so masks computed with a threshold that an
// insertion has since raised stay correct.
//
// Lines: x [O, L, I]. I == 1: rows (contiguous lines, vector blocks along the line). I > 1: the lines are strided,
// so the scan runs across lanes = lines: block l of lines c0..c1 is x[o, l, c0:c1] (contiguous), compared against
// the per-line thresholds in an array; each line has its own buffer. Outputs [O, K, I] (x's layout, k along dim).
// Rows (I == 1): a row that runs sorted from its K-th element on (every element would enter, K shifts each) is
// found by one compare per element right after the first K and finished by a merge; a row that keeps inserting
// anyway (noisy, rising) is finished past insert_budget insertions by one linear-time selection over the row
// (topk_row_select).
// Strided lines (I > 1): a line that keeps inserting is given up after insert_budget insertions and handed back to
// the caller, which sorts it (partial sort, O(L log K)).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/common.h"
#include "ops/sort/sort_tables.h"
#if DLCORE_VLEN > 1
#include "core/x86_intrin.h"
#endif

namespace dlcore::DLCORE_ISA_NS {

namespace topk_detail {

template <class T>
DLCORE_ALWAYS_INLINE bool is_nan(T v) {
  return v != v;
}

// a (at a later index) comes before b in the sort order.
template <class T, bool Largest>
DLCORE_ALWAYS_INLINE bool better(T a, T b) {
  if constexpr (Largest) return a > b || (is_nan(a) && !is_nan(b));
  else return a < b || (!is_nan(a) && is_nan(b));
}

// The threshold the candidate test compares against, from the current k-th.
template <class T, bool Largest>
DLCORE_ALWAYS_INLINE T cmp_form(T kth) {
  if constexpr (Largest && std::is_floating_point_v<T>) {
    if (is_nan(kth)) return std::numeric_limits<T>::infinity();
  }
  return kth;
}

// One lane's candidate test (the scalar build's, and the vector builds' tails).
template <class T, bool Largest>
DLCORE_ALWAYS_INLINE bool may_beat(T x, T t) {
  if constexpr (Largest) return !(x <= t);
  else return !(x >= t);
}

// Vector candidate tests: W elements at p against the threshold vector; bit j set = lane j may beat.
// The generic one (W = 1) serves the scalar build and the types without a vector version.
template <class T>
struct Simd {
  static constexpr int W = 1;
  using V = T;
  static V set1(T t) { return t; }
  static V load(const T* p) { return *p; }
  template <bool Largest>
  static uint64_t cand(const T* p, V t) {
    return may_beat<T, Largest>(*p, t) ? 1u : 0u;
  }
};

#if DLCORE_VLEN == 16
template <>
struct Simd<float> {
  static constexpr int W = 16;
  using V = __m512;
  static V set1(float t) { return _mm512_set1_ps(t); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  template <bool Largest>
  static uint64_t cand(const float* p, V t) {
    return _mm512_cmp_ps_mask(_mm512_loadu_ps(p), t, Largest ? _CMP_NLE_UQ : _CMP_NGE_UQ);
  }
};
template <>
struct Simd<double> {
  static constexpr int W = 8;
  using V = __m512d;
  static V set1(double t) { return _mm512_set1_pd(t); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  template <bool Largest>
  static uint64_t cand(const double* p, V t) {
    return _mm512_cmp_pd_mask(_mm512_loadu_pd(p), t, Largest ? _CMP_NLE_UQ : _CMP_NGE_UQ);
  }
};
template <>
struct Simd<int32_t> {
  static constexpr int W = 16;
  using V = __m512i;
  static V set1(int32_t t) { return _mm512_set1_epi32(t); }
  static V load(const int32_t* p) { return _mm512_loadu_si512(p); }
  template <bool Largest>
  static uint64_t cand(const int32_t* p, V t) {
    const __m512i x = _mm512_loadu_si512(p);
    return Largest ? _mm512_cmpgt_epi32_mask(x, t) : _mm512_cmplt_epi32_mask(x, t);
  }
};
template <>
struct Simd<int64_t> {
  static constexpr int W = 8;
  using V = __m512i;
  static V set1(int64_t t) { return _mm512_set1_epi64(t); }
  static V load(const int64_t* p) { return _mm512_loadu_si512(p); }
  template <bool Largest>
  static uint64_t cand(const int64_t* p, V t) {
    const __m512i x = _mm512_loadu_si512(p);
    return Largest ? _mm512_cmpgt_epi64_mask(x, t) : _mm512_cmplt_epi64_mask(x, t);
  }
};
template <>
struct Simd<uint8_t> {
  static constexpr int W = 64;
  using V = __m512i;
  static V set1(uint8_t t) { return _mm512_set1_epi8((char)t); }
  static V load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  template <bool Largest>
  static uint64_t cand(const uint8_t* p, V t) {
    const __m512i x = _mm512_loadu_si512(p);
    return Largest ? _mm512_cmpgt_epu8_mask(x, t) : _mm512_cmplt_epu8_mask(x, t);
  }
};
#elif DLCORE_VLEN == 8
template <>
struct Simd<float> {
  static constexpr int W = 8;
  using V = __m256;
  static V set1(float t) { return _mm256_set1_ps(t); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  template <bool Largest>
  static uint64_t cand(const float* p, V t) {
    return (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(p), t, Largest ? _CMP_NLE_UQ : _CMP_NGE_UQ));
  }
};
template <>
struct Simd<double> {
  static constexpr int W = 4;
  using V = __m256d;
  static V set1(double t) { return _mm256_set1_pd(t); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  template <bool Largest>
  static uint64_t cand(const double* p, V t) {
    return (uint32_t)_mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(p), t, Largest ? _CMP_NLE_UQ : _CMP_NGE_UQ));
  }
};
template <>
struct Simd<int32_t> {
  static constexpr int W = 8;
  using V = __m256i;
  static V set1(int32_t t) { return _mm256_set1_epi32(t); }
  static V load(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  template <bool Largest>
  static uint64_t cand(const int32_t* p, V t) {
    const __m256i x = load(p);
    const __m256i m = Largest ? _mm256_cmpgt_epi32(x, t) : _mm256_cmpgt_epi32(t, x);
    return (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(m));
  }
};
template <>
struct Simd<int64_t> {
  static constexpr int W = 4;
  using V = __m256i;
  static V set1(int64_t t) { return _mm256_set1_epi64x(t); }
  static V load(const int64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  template <bool Largest>
  static uint64_t cand(const int64_t* p, V t) {
    const __m256i x = load(p);
    const __m256i m = Largest ? _mm256_cmpgt_epi64(x, t) : _mm256_cmpgt_epi64(t, x);
    return (uint32_t)_mm256_movemask_pd(_mm256_castsi256_pd(m));
  }
};
template <>
struct Simd<uint8_t> {  // unsigned compare as signed after flipping the top bits
  static constexpr int W = 32;
  using V = __m256i;
  static V set1(uint8_t t) { return _mm256_set1_epi8((char)(t ^ 0x80)); }
  static V load(const uint8_t* p) {
    return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), _mm256_set1_epi8((char)0x80));
  }
  template <bool Largest>
  static uint64_t cand(const uint8_t* p, V t) {
    const __m256i x = load(p);
    const __m256i m = Largest ? _mm256_cmpgt_epi8(x, t) : _mm256_cmpgt_epi8(t, x);
    return (uint32_t)_mm256_movemask_epi8(m);
  }
};
#endif

// Inserts x (index j, later than every buffered index) into the sorted buffer bv/bi of n entries (n < K: grows;
// n == K: the last one drops out; the caller checked better(x, bv[K-1]) in that case).
template <class T, bool Largest>
DLCORE_ALWAYS_INLINE int64_t insert(T* bv, int64_t* bi, int64_t n, int64_t K, T x, int64_t j) {
  int64_t p = n < K ? n : K - 1;
  while (p > 0 && better<T, Largest>(x, bv[p - 1])) {
    bv[p] = bv[p - 1];
    bi[p] = bi[p - 1];
    --p;
  }
  bv[p] = x;
  bi[p] = j;
  return p;  // the position it took
}

// Insertions a line may make before the scan gives it up (rows: finished by topk_row_select; strided lines:
// returned to the caller, which sorts them): random
// order makes about K ln(L / K) (L = 1000: 26 for K = 5, 110 for K = 32), an ascending line (largest) L - K, each
// shifting K entries.
inline int64_t insert_budget(int64_t L, int64_t K) { return L / 16 + 4 * K; }

// The threshold that no number passes (a given-up lane's; its NaNs still reach visit, which skips the lane).
template <class T, bool Largest>
DLCORE_ALWAYS_INLINE T never_beaten() {
  if constexpr (std::is_floating_point_v<T>)
    return Largest ? std::numeric_limits<T>::infinity() : -std::numeric_limits<T>::infinity();
  else
    return Largest ? std::numeric_limits<T>::max() : std::numeric_limits<T>::lowest();
}

// The value of rank r (0-based, in sort order) of a[0, n) (numbers, no NaN; a is reordered): quickselect whose
// partition is branchless (Lomuto: every element is written, the boundary moves by the compare's result), so that
// unpredictable compares cost no mispredictions (std::nth_element's partition branches on each: ~1.5 us per cut of
// 128 noisy values); the pivot the median of three. A range that does not shrink (many values equal to the pivot)
// or is short is finished by std::nth_element.
template <class T, bool Largest>
T select_value(T* a, int64_t n, int64_t r) {
  auto bef = [](T p, T q) { return Largest ? p > q : p < q; };
  int64_t lo = 0, hi = n;
  while (hi - lo > 16) {
    const T p0 = a[lo], p1 = a[lo + (hi - lo) / 2], p2 = a[hi - 1];
    const T piv = bef(p0, p1) ? (bef(p1, p2) ? p1 : (bef(p0, p2) ? p2 : p0)) : (bef(p0, p2) ? p0 : (bef(p1, p2) ? p2 : p1));
    int64_t m = lo;  // [lo, m): before the pivot
    for (int64_t i = lo; i < hi; ++i) {
      const T x = a[i];
      const bool b = bef(x, piv);
      a[i] = a[m];
      a[m] = x;
      m += b;
    }
    if (r < m) {
      if (m == hi) break;  // (cannot happen: the pivot itself is not before itself)
      hi = m;
    } else {
      // [m, hi) starts with values equal to the pivot or after it; the pivot's rank is at least m
      int64_t e = m;  // move the values equal to the pivot to the front of [m, hi)
      for (int64_t i = m; i < hi; ++i) {
        const T x = a[i];
        const bool b = !bef(piv, x);  // not after the pivot (and not before it): equal
        a[i] = a[e];
        a[e] = x;
        e += b;
      }
      if (r < e) return piv;
      if (e == m) break;  // (cannot happen: the pivot is in the range)
      lo = e;
    }
  }
  std::nth_element(a + lo, a + r, a + hi, bef);
  return a[r];
}

// A row whose insertions ran past the budget (noisy, rising data: nearly every element enters), finished by one
// selection over the whole row in linear time: the K-th value v by select_value on a copy of the values (its
// branchless partitions cost no mispredictions on such data), then one pass keeps, in index order, the elements
// better than v and the first of those equal to it (the sort's tie-break), and the K are sorted. No NaN in x (the
// caller checked: the sort path orders NaN). buf: room for L values.
template <class T, bool Largest>
__attribute__((noinline)) void topk_row_select(const T* x, int64_t L, int64_t K, T* buf, T* vo, int64_t* io) {
  std::memcpy(buf, x, L * sizeof(T));
  const T v = select_value<T, Largest>(buf, L, K - 1);
  auto bef = [](T p, T q) { return Largest ? p > q : p < q; };
  int64_t eq = K;  // how many equal to v are kept: K minus those better than v
  for (int64_t j = 0; j < L; ++j) eq -= bef(x[j], v);
  int64_t m = 0;
  for (int64_t j = 0; j < L && m < K; ++j) {
    const T xv = x[j];
    const bool tie = (xv == v) & (eq > 0);
    eq -= tie;
    if (bef(xv, v) | tie) vo[m] = xv, io[m++] = j;
  }
  // sort the K by value, ties by index (they are in index order already: a stable sort)
  int64_t ord[kTopkScanMaxK];
  for (int64_t q = 0; q < K; ++q) ord[q] = q;
  std::stable_sort(ord, ord + K, [&](int64_t p, int64_t q) { return bef(vo[p], vo[q]); });
  T sv[kTopkScanMaxK];
  int64_t si[kTopkScanMaxK];
  for (int64_t q = 0; q < K; ++q) sv[q] = vo[ord[q]], si[q] = io[ord[q]];
  for (int64_t q = 0; q < K; ++q) vo[q] = sv[q], io[q] = si[q];
}

// A row given up at position j (its insertions ran past the budget) finished from candidates: bv/bi hold the best
// K of the elements the scan kept from x[0, j) (ties by index), so the row's best K are among them and the elements
// of x[j, L) that pass the scan's candidate test against t (the current threshold: the buffer's K-th and the tail
// lower bound; a later element equal to the buffer's K-th loses the tie to the buffer). If they are few (<= cap)
// the K best are picked from them by (value, index); else false (the caller selects over the whole row). No NaN in
// x (the caller checked).
template <class T, bool Largest>
__attribute__((noinline)) bool topk_row_from_tail(const T* x, int64_t j, int64_t L, int64_t K, const T* bv,
                                                  const int64_t* bi, T t, T* vo, int64_t* io) {
  constexpr int64_t cap = 8 * kTopkScanMaxK;
  T cv[cap];
  int64_t ci[cap];
  int64_t c = 0;
  for (int64_t q = 0; q < K; ++q) cv[c] = bv[q], ci[c++] = bi[q];
  for (int64_t q = j; q < L; ++q) {
    const T v = x[q];
    if (may_beat<T, Largest>(v, t)) {
      if (c == cap) return false;
      cv[c] = v, ci[c++] = q;
    }
  }
  int64_t ord[cap];
  for (int64_t q = 0; q < c; ++q) ord[q] = q;
  std::partial_sort(ord, ord + K, ord + c, [&](int64_t p, int64_t q) {
    if (better<T, Largest>(cv[p], cv[q])) return true;
    if (better<T, Largest>(cv[q], cv[p])) return false;
    return ci[p] < ci[q];
  });
  for (int64_t q = 0; q < K; ++q) vo[q] = cv[ord[q]], io[q] = ci[ord[q]];
  return true;
}

// The value just before v in sort order (largest: the next smaller representable; smallest: the next larger), so
// that a strict candidate test against it passes v itself. False when there is none (v the extreme of the type).
template <class T, bool Largest>
DLCORE_ALWAYS_INLINE bool just_before(T v, T& out) {
  if constexpr (std::is_floating_point_v<T>) {
    const T lim = Largest ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    if (v == lim) return false;
    out = std::nextafter(v, lim);
  } else {
    if (v == (Largest ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max())) return false;
    out = Largest ? (T)(v - 1) : (T)(v + 1);
  }
  return true;
}

// A lower bound of the K-th value of row x[0, L) (in sort order): the K-th of its last 4K elements, returned in the
// scan threshold's form (just_before: elements equal to it still pass). False when the row is short (L < 8K), the
// tail holds NaN, or the bound is the type's extreme. Out of line: the scan loop stays as it was.
template <class T>
struct TailBound {
  bool ok;
  T v;
};
template <class T, bool Largest>
__attribute__((noinline)) TailBound<T> tail_bound(const T* x, int64_t L, int64_t K, std::vector<T>& sel) {
  TailBound<T> r{false, T{}};
  if (L < 8 * K) return r;
  if (sel.size() < (std::size_t)L) sel.resize(L);
  bool nan = false;
  for (int64_t q = 0; q < 4 * K; ++q) nan |= is_nan(sel[q] = x[L - 4 * K + q]);
  if (!nan) r.ok = just_before<T, Largest>(select_value<T, Largest>(sel.data(), 4 * K, K - 1), r.v);
  return r;
}

// The first K elements of a row, sorted (in sort order, ties by index) into bv/bi.
template <class T, bool Largest>
DLCORE_ALWAYS_INLINE void first_sorted(const T* x, int64_t K, T* bv, int64_t* bi) {
  if (K <= 8) {  // a few insertions
    for (int64_t j = 0; j < K; ++j) insert<T, Largest>(bv, bi, j, K, x[j], j);
    return;
  }
  int64_t ord[kTopkScanMaxK];
  for (int64_t j = 0; j < K; ++j) ord[j] = j;
  std::sort(ord, ord + K, [x](int64_t p, int64_t q) {
    if (better<T, Largest>(x[p], x[q])) return true;
    if (better<T, Largest>(x[q], x[p])) return false;
    return p < q;
  });
  for (int64_t j = 0; j < K; ++j) bv[j] = x[ord[j]], bi[j] = ord[j];
}

// If x[j..L) rises strictly (largest; falls strictly for smallest, no NaN), its best are its last elements: the K
// best of the row are merged from them and the buffer (bv/bi, sorted; its indices are all earlier, so it wins ties)
// into vo/io, and true is returned. Otherwise (found at the first step that breaks the run) false.
template <class T, bool Largest>
bool topk_row_monotone_rest(const T* x, int64_t j, int64_t L, int64_t K, const T* bv, const int64_t* bi, T* vo,
                            int64_t* io) {
  for (int64_t q = j; q + 1 < L; ++q)
    if (!(Largest ? x[q] < x[q + 1] : x[q] > x[q + 1])) return false;
  int64_t b = 0, r = L - 1;  // next of the buffer, next of the rest (best first: from the end)
  for (int64_t o = 0; o < K; ++o) {
    if (r >= j && (b >= K || better<T, Largest>(x[r], bv[b]))) {
      vo[o] = x[r];
      io[o] = r--;
    } else {
      vo[o] = bv[b];
      io[o] = bi[b++];
    }
  }
  return true;
}

// Rows o0..o1 of x [O, L] (contiguous lines), outputs [O, K]. Returns the number of rows given up (written to redo):
// rows past their insertion budget that hold a NaN (the others are finished by topk_row_from_tail or
// topk_row_select).
template <class T, bool Largest>
int64_t topk_rows(const TopkArgs& a, int64_t o0, int64_t o1, int64_t* redo) {
  using S = Simd<T>;
  constexpr int W = S::W;
  constexpr int U = W > 1 ? 4 : 8;  // blocks per step: one branch on the OR of their masks
  const int64_t L = a.L, K = a.K;
  const int64_t budget = insert_budget(L, K) * (K / 2 + 1);  // in entries moved (random rows: K / 2 each)
  int64_t nredo = 0;
  T bv[kTopkScanMaxK];
  int64_t bi[kTopkScanMaxK];
  std::vector<T> sel;  // topk_row_select's copy of a row
  for (int64_t o = o0; o < o1; ++o) {
    const T* x = static_cast<const T*>(a.x) + o * L;
    first_sorted<T, Largest>(x, K, bv, bi);
    T* vo = static_cast<T*>(a.values) + o * K;
    int64_t* io = a.indices + o * K;
    // a sorted row (every element would enter, shifting K): the merge, at the cost of one compare per element
    if (topk_row_monotone_rest<T, Largest>(x, K, L, K, bv, bi, vo, io)) continue;
    // Past half the insertion budget (checked after each visited block; rising rows: nearly every element
    // enters), a lower bound of the row's K-th value from its last 4K elements (tail_bound) joins the threshold:
    // the scan then skips what cannot reach it and inserts almost nothing more. From the start only for K >= 16: on
    // random rows it costs ~15% at K = 5 and saves ~5% at K = 32.
    bool lb_tried = K >= 16;
    T lb = Largest ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();  // no bound yet
    if constexpr (std::is_floating_point_v<T>) lb = Largest ? -std::numeric_limits<T>::infinity()
                                                            : std::numeric_limits<T>::infinity();
    if (lb_tried) {
      const TailBound<T> tb = tail_bound<T, Largest>(x, L, K, sel);
      if (tb.ok) lb = tb.v;
    }
    auto threshold = [&] {
      const T t0 = cmp_form<T, Largest>(bv[K - 1]);
      return Largest ? (lb > t0 ? lb : t0) : (lb < t0 ? lb : t0);
    };
    T t = threshold();
    typename S::V tv = S::set1(t);
    int64_t inserted = 0;
    auto visit = [&](uint64_t m, int64_t base) {
      while (m) {
        const int64_t j = base + __builtin_ctzll(m);
        m &= m - 1;
        if (better<T, Largest>(x[j], bv[K - 1])) {
          inserted += K - insert<T, Largest>(bv, bi, K, K, x[j], j);  // 1 + the entries it shifted
          t = threshold();
          tv = S::set1(t);
        }
      }
    };
    int64_t j = K;
    for (; j + U * W <= L; j += U * W) {
      uint64_t m[U], any = 0;
      for (int u = 0; u < U; ++u) any |= m[u] = S::template cand<Largest>(x + j + u * W, tv);
      if (DLCORE_UNLIKELY(any != 0)) {
        for (int u = 0; u < U; ++u) visit(m[u], j + u * W);
        if (DLCORE_UNLIKELY(2 * inserted > budget)) {
          if (!lb_tried) {  // (also before giving up: the finish below filters with t)
            lb_tried = true;
            const TailBound<T> tb = tail_bound<T, Largest>(x, L, K, sel);
            if (tb.ok) lb = tb.v;
            t = threshold();
            tv = S::set1(t);
          }
          if (inserted > budget) {
            j += U * W;
            break;
          }
        }
      }
    }
    if (inserted > budget) {
      if (sel.size() < (std::size_t)L) sel.resize(L);
      bool nan = false;
      for (int64_t q = 0; q < L; ++q) nan |= is_nan(x[q]);
      if (nan) redo[nredo++] = o;  // the sort path orders NaN
      else if (!topk_row_from_tail<T, Largest>(x, j, L, K, bv, bi, t, vo, io))
        topk_row_select<T, Largest>(x, L, K, sel.data(), vo, io);
      continue;
    }
    for (; j + W <= L; j += W) visit(S::template cand<Largest>(x + j, tv), j);
    for (; j < L; ++j)
      if (may_beat<T, Largest>(x[j], t)) visit(1, j);
    std::memcpy(vo, bv, K * sizeof(T));
    std::memcpy(io, bi, K * sizeof(int64_t));
  }
  return nredo;
}

// Lines c0..c1 of slice o of x [O, L, I] (strided lines, scanned across lanes), outputs [O, K, I]. scratch: see
// TopkTable (per-line insertion counts, buffers and thresholds). Returns the number of lines given up (their c in
// redo); their outputs are left to the caller.
template <class T, bool Largest>
int64_t topk_lanes(const TopkArgs& a, int64_t o, int64_t c0, int64_t c1, void* scratch, int64_t* redo) {
  using S = Simd<T>;
  constexpr int W = S::W;
  const int64_t L = a.L, K = a.K, I = a.I, n = c1 - c0, budget = insert_budget(L, K);
  int64_t* cnt = static_cast<int64_t*>(scratch);  // [n] insertions; > budget: given up
  int64_t* bi = cnt + n;                          // [n, K]
  T* bv = reinterpret_cast<T*>(bi + n * K);       // [n, K]
  T* thr = bv + n * K;                            // [n]
  for (int64_t c = 0; c < n; ++c) cnt[c] = 0;
  const T* xo = static_cast<const T*>(a.x) + o * L * I + c0;
  for (int64_t l = 0; l < K; ++l) {
    const T* row = xo + l * I;
    for (int64_t c = 0; c < n; ++c) insert<T, Largest>(bv + c * K, bi + c * K, l, K, row[c], l);
  }
  for (int64_t c = 0; c < n; ++c) thr[c] = cmp_form<T, Largest>(bv[c * K + K - 1]);
  auto visit = [&](uint64_t m, const T* row, int64_t base, int64_t l) {
    while (m) {
      const int64_t c = base + __builtin_ctzll(m);
      m &= m - 1;
      T* b = bv + c * K;
      if (better<T, Largest>(row[c], b[K - 1]) && cnt[c] <= budget) {
        insert<T, Largest>(b, bi + c * K, K, K, row[c], l);
        thr[c] = ++cnt[c] > budget ? never_beaten<T, Largest>() : cmp_form<T, Largest>(b[K - 1]);
      }
    }
  };
  for (int64_t l = K; l < L; ++l) {
    const T* row = xo + l * I;
    int64_t c = 0;
    for (; c + W <= n; c += W) {
      const uint64_t m = S::template cand<Largest>(row + c, S::load(thr + c));
      if (DLCORE_UNLIKELY(m != 0)) visit(m, row, c, l);
    }
    for (; c < n; ++c)
      if (may_beat<T, Largest>(row[c], thr[c])) visit(1, row, c, l);
  }
  T* vo = static_cast<T*>(a.values) + o * K * I + c0;
  int64_t* io = a.indices + o * K * I + c0;
  for (int64_t j = 0; j < K; ++j)
    for (int64_t c = 0; c < n; ++c) {
      vo[j * I + c] = bv[c * K + j];
      io[j * I + c] = bi[c * K + j];
    }
  int64_t nredo = 0;
  for (int64_t c = 0; c < n; ++c)
    if (cnt[c] > budget) redo[nredo++] = c0 + c;
  return nredo;
}

template <class T>
int64_t topk_rows_any(const TopkArgs& a, int64_t o0, int64_t o1, int64_t* redo) {
  return a.largest ? topk_rows<T, true>(a, o0, o1, redo) : topk_rows<T, false>(a, o0, o1, redo);
}
template <class T>
int64_t topk_lanes_any(const TopkArgs& a, int64_t o, int64_t c0, int64_t c1, void* scratch, int64_t* redo) {
  return a.largest ? topk_lanes<T, true>(a, o, c0, c1, scratch, redo)
                   : topk_lanes<T, false>(a, o, c0, c1, scratch, redo);
}

}  // namespace topk_detail

void fill_topk_table(TopkTable& t) {
  using namespace topk_detail;
  t.rows[0] = &topk_rows_any<float>;
  t.rows[1] = &topk_rows_any<double>;
  t.rows[2] = &topk_rows_any<int32_t>;
  t.rows[3] = &topk_rows_any<int64_t>;
  t.rows[4] = &topk_rows_any<uint8_t>;
  t.rows[5] = &topk_rows_any<int8_t>;
  t.rows[6] = &topk_rows_any<int16_t>;
  t.lanes[0] = &topk_lanes_any<float>;
  t.lanes[1] = &topk_lanes_any<double>;
  t.lanes[2] = &topk_lanes_any<int32_t>;
  t.lanes[3] = &topk_lanes_any<int64_t>;
  t.lanes[4] = &topk_lanes_any<uint8_t>;
  t.lanes[5] = &topk_lanes_any<int8_t>;
  t.lanes[6] = &topk_lanes_any<int16_t>;
  t.lane_width[0] = Simd<float>::W;
  t.lane_width[1] = Simd<double>::W;
  t.lane_width[2] = Simd<int32_t>::W;
  t.lane_width[3] = Simd<int64_t>::W;
  t.lane_width[4] = Simd<uint8_t>::W;
  t.lane_width[5] = Simd<int8_t>::W;
  t.lane_width[6] = Simd<int16_t>::W;
}

}  // namespace dlcore::DLCORE_ISA_NS
