// CPU sort / topk (per row: NaNs split off, the numbers sorted as (value, index) pairs; threaded over rows), topk
// for small k (the threshold scan of sort_topk.h, chosen per ISA at run time), scans (threaded over the outer dim,
// the inner dim in the innermost loop so it vectorises), registration, frontends.
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/sort/sort_topk.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/sort/sort.h"

namespace dlcore {

namespace {

template <class T>
struct SortItem {
  T v;
  int64_t i;
};

// The unsigned key of a number whose order is the numbers' order (floats: the sign bit set for positives, all bits
// inverted for negatives; -0 taken as +0, the two compare equal; signed integers: the sign bit flipped).
template <class T>
auto radix_key(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    if (v == T(0)) v = T(0);
    U u;
    std::memcpy(&u, &v, sizeof u);
    constexpr U sign = U(1) << (8 * sizeof(U) - 1);
    return (u & sign) ? U(~u) : U(u | sign);
  } else if constexpr (std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    return U(U(v) ^ (U(1) << (8 * sizeof(U) - 1)));
  } else {
    return v;
  }
}

// items[0, n) (numbers, in index order) sorted by value, ties in index order, by an LSD radix sort on the keys:
// 8-bit digits, a pass skipped when every key has the same digit (small integers, narrow ranges), stable by
// construction; descending sorts the inverted keys. A 100000-element int64 line: 7 ms by std::sort on (value,
// index) pairs, ~0.4 ms here (torch's radix sort 0.8 ms).
template <class T>
void radix_sort_items(SortItem<T>* items, int64_t n, bool desc, std::vector<SortItem<T>>& tmp) {
  using U = decltype(radix_key(T()));
  constexpr int kPasses = (int)sizeof(U);
  std::vector<uint32_t> hist((size_t)kPasses * 256, 0);
  const U flip = desc ? U(~U(0)) : U(0);
  for (int64_t j = 0; j < n; ++j) {
    const U k = radix_key(items[j].v) ^ flip;
    for (int p = 0; p < kPasses; ++p) ++hist[p * 256 + ((k >> (8 * p)) & 0xff)];
  }
  tmp.resize(n);
  SortItem<T>* src = items;
  SortItem<T>* dst = tmp.data();
  for (int p = 0; p < kPasses; ++p) {
    uint32_t* h = hist.data() + p * 256;
    bool trivial = false;
    for (int b = 0; b < 256; ++b)
      if (h[b] == (uint32_t)n) trivial = true;
    if (trivial) continue;
    uint32_t sum = 0;
    for (int b = 0; b < 256; ++b) {
      const uint32_t c = h[b];
      h[b] = sum;
      sum += c;
    }
    for (int64_t j = 0; j < n; ++j) {
      const U k = radix_key(src[j].v) ^ flip;
      dst[h[(k >> (8 * p)) & 0xff]++] = src[j];
    }
    std::swap(src, dst);
  }
  if (src != items) std::memcpy(static_cast<void*>(items), src, (size_t)n * sizeof(SortItem<T>));
}

// One line x[0], x[xs], ..., x[(L - 1) xs]: its first K in sort order to vo/io (stride os). NaNs (if any) split off
// first, keeping their index order; the numbers sorted as (value, index) pairs (the index breaks ties: a plain sort
// gives the stable order, with contiguous keys instead of indirect loads).
template <class T>
void sort_line(const T* row, int64_t xs, int64_t L, int64_t K, bool desc, T* vo, int64_t* io, int64_t os,
               std::vector<SortItem<T>>& items, std::vector<SortItem<T>>& nans, std::vector<SortItem<T>>& tmp) {
  using Item = SortItem<T>;
  items.resize(L);
  int64_t n = 0;
  nans.clear();
  for (int64_t j = 0; j < L; ++j) {
    const T v = row[j * xs];
    if (v != v) nans.push_back({v, j});
    else items[n++] = {v, j};
  }
  auto asc = [](const Item& a, const Item& b) { return a.v < b.v || (a.v == b.v && a.i < b.i); };
  auto dsc = [](const Item& a, const Item& b) { return a.v > b.v || (a.v == b.v && a.i < b.i); };
  // NaN first when descending, last when ascending: the numbers' part of the first K outputs
  const int64_t nn = (int64_t)nans.size();
  const int64_t lead = desc ? std::min(nn, K) : 0;
  const int64_t want = std::min(n, K - lead);
  auto mid = items.begin() + want, end = items.begin() + n;
  // topk: a heap (partial_sort) for small k, else select in O(n) (nth_element) and sort the k
  // (256 rows of 1000: k = 5 0.65 vs 2.2 ms, k = 500 13.9 vs 7.5 ms)
  // (lines of 256 and more: the radix sort of all the numbers unless k is tiny; 256 rows of 1000, k = 50 / 500:
  // 2.75 / 7.5 ms by heap / selection + sort, ~2 ms by the radix sort)
  if (n >= 256 && n < ((int64_t)1 << 32) && want * 64 > n) {
    radix_sort_items(items.data(), n, desc, tmp);
  } else if (want < n && want * 16 <= n) {
    desc ? std::partial_sort(items.begin(), mid, end, dsc) : std::partial_sort(items.begin(), mid, end, asc);
  } else if (want < n) {
    if (want > 0) {
      desc ? std::nth_element(items.begin(), mid - 1, end, dsc) : std::nth_element(items.begin(), mid - 1, end, asc);
      desc ? std::sort(items.begin(), mid, dsc) : std::sort(items.begin(), mid, asc);
    }
  } else {
    desc ? std::sort(items.begin(), end, dsc) : std::sort(items.begin(), end, asc);
  }
  int64_t o = 0;
  if (desc)
    for (; o < lead; ++o) vo[o * os] = nans[o].v, io[o * os] = nans[o].i;
  for (int64_t j = 0; j < want; ++j, ++o) vo[o * os] = items[j].v, io[o * os] = items[j].i;
  for (int64_t j = 0; o < K; ++j, ++o) vo[o * os] = nans[j].v, io[o * os] = nans[j].i;
}

// x [R, L] -> the first K of each row in sort order.
template <class T>
void sort_rows(const Tensor& values, const Tensor& indices, const Tensor& x, bool desc) {
  const int64_t R = x.size(0), L = x.size(1), K = values.size(1);
  const T* xp = x.data<T>();
  T* vp = values.data<T>();
  int64_t* ip = indices.data<int64_t>();
  parallel_for(0, R, std::max<int64_t>(1, 4096 / std::max<int64_t>(L, 1)), [&](int64_t r0, int64_t r1) {
    std::vector<SortItem<T>> items, nans, tmp;
    for (int64_t r = r0; r < r1; ++r)
      sort_line(xp + r * L, 1, L, K, desc, vp + r * K, ip + r * K, 1, items, nans, tmp);
  });
}

// The k0-th smallest (0-based) of v[0, n) (numbers only; v is reordered) and how many of them are smaller than it.
// Rows of 256 and more: one Floyd-Rivest round. A sample of 128 (evenly spaced) gives two values lo <= hi that
// bracket rank k0 with high probability (ranks k0 s / n -+ (sqrt(s) + 2) in the sample); one branchless pass counts
// the numbers below lo and copies those in [lo, hi] (about a fifth of them) to buf, where nth_element finishes.
// When the bracket misses (the k0-th is outside [lo, hi]) or the row is short: nth_element over all of v.
// (Stand-alone timing, 256 rows of 1000 floats, k = 500, on a busy core: nth_element over (value, index) pairs, the
// previous kernel, 2.8 ms; this 1.5 ms.)
template <class T>
void select_kth(T* v, int64_t n, int64_t k0, T* buf, T* smp, T& kv, int64_t& less) {
  constexpr int64_t s = 128;
  if (n >= 2 * s) {
    for (int64_t q = 0; q < s; ++q) smp[q] = v[q * n / s + n / s / 2];
    const double pos = double(k0) * s / double(n), d = std::sqrt(double(s)) + 2;
    const int64_t rlo = (int64_t)std::floor(pos - d), rhi = (int64_t)std::ceil(pos + d);
    T lo = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
    T hi = std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
    if (rlo >= 0) {
      std::nth_element(smp, smp + rlo, smp + s);
      lo = smp[rlo];
    }
    if (rhi < s) {
      std::nth_element(smp + std::max<int64_t>(rlo, 0), smp + rhi, smp + s);
      hi = smp[rhi];
    }
    int64_t m = 0, clo = 0;
    for (int64_t j = 0; j < n; ++j) {
      const T x = v[j];
      buf[m] = x;
      m += (lo <= x) & (x <= hi);
      clo += x < lo;
    }
    if (clo <= k0 && k0 < clo + m) {
      const int64_t r = k0 - clo;
      std::nth_element(buf, buf + r, buf + m);
      kv = buf[r];
      less = clo;
      for (int64_t j = 0; j < r; ++j) less += buf[j] < kv;
      return;
    }
  }
  std::nth_element(v, v + k0, v + n);
  kv = v[k0];
  less = 0;
  for (int64_t j = 0; j < k0; ++j) less += v[j] < kv;
}

// One row's k-th in ascending (value, index) order, NaNs last: the k-th value among the numbers by selection on the
// values alone (select_kth), then its index: the (k - 1 - smaller)-th position holding that value, in index order.
template <class T>
void select_rows(const Tensor& value, const Tensor& index, const Tensor& x, int64_t k) {
  const int64_t R = x.size(0), L = x.size(1);
  const T* xp = x.data<T>();
  T* vp = value.data<T>();
  int64_t* ip = index.data<int64_t>();
  parallel_for(0, R, std::max<int64_t>(1, 4096 / std::max<int64_t>(L, 1)), [&](int64_t r0, int64_t r1) {
    std::vector<T> vals(L + 1), buf(L + 1), smp(128);
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = xp + r * L;
      int64_t n = 0, at = 0;
      for (int64_t j = 0; j < L; ++j) {  // the numbers, branch-free
        vals[n] = row[j];
        n += row[j] == row[j];
      }
      if (k - 1 < n) {
        T kv;
        int64_t less = 0;
        select_kth(vals.data(), n, k - 1, buf.data(), smp.data(), kv, less);
        int64_t want = k - 1 - less;
        for (int64_t j = 0; j < L; ++j)
          if (row[j] == kv && want-- == 0) {
            at = j;
            break;
          }
      } else {  // the (k - n)-th NaN in index order
        int64_t want = k - 1 - n, seen = 0;
        for (int64_t j = 0; j < L; ++j)
          if (row[j] != row[j] && seen++ == want) {
            at = j;
            break;
          }
      }
      vp[r] = row[at], ip[r] = at;
    }
  });
}

void select_cpu(const Tensor& value, const Tensor& index, const Tensor& x, int64_t k) {
  switch (x.dtype()) {
    case DType::Float32: return select_rows<float>(value, index, x, k);
    case DType::Float64: return select_rows<double>(value, index, x, k);
    case DType::Int32: return select_rows<int32_t>(value, index, x, k);
    case DType::Int64: return select_rows<int64_t>(value, index, x, k);
    case DType::UInt8: return select_rows<uint8_t>(value, index, x, k);
    case DType::Int8: return select_rows<int8_t>(value, index, x, k);
    case DType::Int16: return select_rows<int16_t>(value, index, x, k);
    default: DLCORE_THROW(TypeError, "kthvalue(): unsupported dtype ", dtype_name(x.dtype()));
  }
}

void sort_cpu(const Tensor& values, const Tensor& indices, const Tensor& x, bool desc) {
  switch (x.dtype()) {
    case DType::Float32: return sort_rows<float>(values, indices, x, desc);
    case DType::Float64: return sort_rows<double>(values, indices, x, desc);
    case DType::Int32: return sort_rows<int32_t>(values, indices, x, desc);
    case DType::Int64: return sort_rows<int64_t>(values, indices, x, desc);
    case DType::UInt8: return sort_rows<uint8_t>(values, indices, x, desc);
    case DType::Int8: return sort_rows<int8_t>(values, indices, x, desc);
    case DType::Int16: return sort_rows<int16_t>(values, indices, x, desc);
    default: DLCORE_THROW(TypeError, "sort(): unsupported dtype ", dtype_name(x.dtype()));
  }
}

struct AllTopkTables {
  TopkTable isa[kNumIsas];
  AllTopkTables() {
    fill_isa_tables(isa, &scalar::fill_topk_table, &avx2::fill_topk_table, &avx512::fill_topk_table);
  }
};

const TopkTable& topk_table() {
  static const AllTopkTables t;
  return t.isa[(int)cpu_isa()];
}

// A line the scan gave up (sort_topk.h): sorted by sort_line (a partial sort for small K).
template <class T>
void topk_line_sorted(const TopkArgs& a, int64_t o, int64_t c, std::vector<SortItem<T>>& items,
                      std::vector<SortItem<T>>& nans) {
  const int64_t L = a.L, I = a.I, K = a.K;
  std::vector<SortItem<T>> tmp;  // (the radix sort's buffer)
  sort_line(static_cast<const T*>(a.x) + o * L * I + c, I, L, K, a.largest, static_cast<T*>(a.values) + o * K * I + c,
            a.indices + o * K * I + c, I, items, nans, tmp);
}

// Small-k topk (K <= kTopkScanMaxK): contiguous lines (I == 1) threaded over rows; strided lines (I > 1) over
// (slice, block of lines), a block of up to 512 lines scanned together (halved while there are fewer blocks than
// threads and the blocks stay >= 64 lines). Lines the scan gives up are sorted here.
template <class T>
void topk_run(const TopkArgs& a, int slot, int64_t esize) {
  const TopkTable& tab = topk_table();
  if (a.I == 1) {
    auto fn = tab.rows[slot];
    parallel_for(0, a.O, std::max<int64_t>(1, 32768 / a.L), [&](int64_t o0, int64_t o1) {
      std::vector<int64_t> redo(o1 - o0);
      std::vector<SortItem<T>> items, nans;
      const int64_t n = fn(a, o0, o1, redo.data());
      for (int64_t r = 0; r < n; ++r) topk_line_sorted<T>(a, redo[r], 0, items, nans);
    });
    return;
  }
  auto fn = tab.lanes[slot];
  const int64_t W = tab.lane_width[slot], nt = get_num_threads();
  int64_t nb = (a.I + 511) / 512;
  while (a.O * nb < nt && a.I / (2 * nb) >= 64) nb *= 2;
  // block b covers lines [I * b / nb, I * (b + 1) / nb) rounded down to whole vector blocks (the last one to I)
  auto edge = [&](int64_t b) { return b >= nb ? a.I : a.I * b / nb / W * W; };
  const int64_t per_line = a.K * (8 + esize) + esize + 8;
  const int64_t lines = (a.I + nb - 1) / nb + W;
  parallel_for(0, a.O * nb, std::max<int64_t>(1, 32768 / (a.L * lines)), [&](int64_t w0, int64_t w1) {
    std::vector<int64_t> scratch((lines * per_line + 7) / 8 + 1), redo(lines);
    std::vector<SortItem<T>> items, nans;
    for (int64_t w = w0; w < w1; ++w) {
      const int64_t o = w / nb, b = w % nb, c0 = edge(b), c1 = edge(b + 1);
      if (c0 >= c1) continue;
      const int64_t n = fn(a, o, c0, c1, scratch.data(), redo.data());
      for (int64_t r = 0; r < n; ++r) topk_line_sorted<T>(a, o, redo[r], items, nans);
    }
  });
}

void topk_cpu(const Tensor& values, const Tensor& indices, const Tensor& x, bool largest) {
  const TopkArgs a{x.raw_data(), values.raw_data(), indices.data<int64_t>(), x.size(0), x.size(1), x.size(2),
                   values.size(1), largest};
  const int64_t es = x.itemsize();
  switch (x.dtype()) {
    case DType::Float32: return topk_run<float>(a, 0, es);
    case DType::Float64: return topk_run<double>(a, 1, es);
    case DType::Int32: return topk_run<int32_t>(a, 2, es);
    case DType::Int64: return topk_run<int64_t>(a, 3, es);
    case DType::UInt8: return topk_run<uint8_t>(a, 4, es);
    case DType::Int8: return topk_run<int8_t>(a, 5, es);
    case DType::Int16: return topk_run<int16_t>(a, 6, es);
    default: DLCORE_THROW(TypeError, "topk(): unsupported dtype ", dtype_name(x.dtype()));
  }
}

// acc type: double for float32 (torch's CPU cumsum does the same), the type itself otherwise.
template <class T, class A>
void scan_lines(const Tensor& out, const Tensor& x, bool prod, bool reverse) {
  const int64_t O = x.size(0), L = x.size(1), I = x.size(2);
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  parallel_for(0, O, std::max<int64_t>(1, 16384 / std::max<int64_t>(L * I, 1)), [&](int64_t o0, int64_t o1) {
    std::vector<A> acc(I);
    for (int64_t o = o0; o < o1; ++o) {
      if (I == 1) {  // a contiguous line: one running accumulator
        A a = prod ? A(1) : A(0);
        const T* xr = xp + o * L;
        T* orow = op + o * L;
        if (reverse)
          for (int64_t l = L - 1; l >= 0; --l) orow[l] = T(a = prod ? a * A(xr[l]) : a + A(xr[l]));
        else if (prod)
          for (int64_t l = 0; l < L; ++l) orow[l] = T(a *= A(xr[l]));
        else
          for (int64_t l = 0; l < L; ++l) orow[l] = T(a += A(xr[l]));
        continue;
      }
      std::fill(acc.begin(), acc.end(), prod ? A(1) : A(0));
      for (int64_t s = 0; s < L; ++s) {
        const int64_t l = reverse ? L - 1 - s : s;
        const T* xr = xp + (o * L + l) * I;
        T* orow = op + (o * L + l) * I;
        if (prod)
          for (int64_t i = 0; i < I; ++i) orow[i] = T(acc[i] *= A(xr[i]));
        else
          for (int64_t i = 0; i < I; ++i) orow[i] = T(acc[i] += A(xr[i]));
      }
    }
  });
}

void scan_cpu(const Tensor& out, const Tensor& x, bool prod, bool reverse) {
  switch (x.dtype()) {
    case DType::Float32: return scan_lines<float, double>(out, x, prod, reverse);
    case DType::Float64: return scan_lines<double, double>(out, x, prod, reverse);
    case DType::Int64: return scan_lines<int64_t, int64_t>(out, x, prod, reverse);
    default: DLCORE_THROW(TypeError, "cumsum(): unsupported dtype ", dtype_name(x.dtype()));
  }
}

KernelRegistrar r1(sort_op, DeviceType::CPU, &sort_cpu, "cpu");
KernelRegistrar r2(scan_op, DeviceType::CPU, &scan_cpu, "cpu");
KernelRegistrar r3(select_op, DeviceType::CPU, &select_cpu, "cpu");
KernelRegistrar r4(topk_op, DeviceType::CPU, &topk_cpu, "cpu");

int norm_dim(int64_t dim, int nd, const char* op) {
  const int n = nd == 0 ? 1 : nd;
  DLCORE_CHECK(dim >= -n && dim < n, IndexError, op, "(): dim ", dim, " is out of range for a tensor of ", nd,
               " dimensions");
  return (int)(dim < 0 ? dim + n : dim);
}

// x with dim moved last, as a contiguous [R, L] tensor in a dtype the kernels sort (16-bit floats and bool go
// through float32 / uint8; their values convert back exactly).
Tensor rows_for_sort(const Tensor& x, int d, int64_t& L) {
  Tensor t = x.dim() == 0 ? x.reshape(IntList{1}) : x;
  const int last = t.dim() - 1;
  if (d != last) t = t.transpose(d, last);
  DType dt = t.dtype();
  if (dt == DType::Float16 || dt == DType::BFloat16) t = t.to(DType::Float32);
  else if (dt == DType::Bool) t = t.to(DType::UInt8);
  L = t.size(last);
  const int64_t R = L ? t.numel() / L : 0;
  return t.contiguous().reshape(IntList{R, L});
}

// [R, K] results back to x's layout with K along dim (contiguous).
Tensor from_rows(const Tensor& r, const Tensor& x, int d, int64_t K) {
  if (x.dim() == 0) return r.reshape(IntList{});
  IntList shape = x.shape();
  const int last = x.dim() - 1;
  std::swap(shape[d], shape[last]);
  shape[last] = K;
  Tensor t = r.reshape(shape);
  if (d != last) t = t.transpose(d, last).contiguous();
  return t;
}

std::pair<Tensor, Tensor> sort_impl(const Tensor& x, int d, int64_t K, bool desc) {
  int64_t L = 0;
  Tensor rows = rows_for_sort(x, d, L);
  const int64_t R = rows.size(0);
  Tensor v = Tensor::empty(IntList{R, K}, rows.dtype(), x.device());
  Tensor i = Tensor::empty(IntList{R, K}, DType::Int64, x.device());
  if (R > 0 && K > 0) sort_op.get(x.device().type)(v, i, rows, desc);
  if (v.dtype() != x.dtype()) v = v.to(x.dtype());
  return {from_rows(v, x, d, K), from_rows(i, x, d, K)};
}

// topk by the small-k kernel: x (contiguous, any dim) seen as [O, L, I] with L along dim; the results come out in
// x's layout with k along dim, no transposes.
std::pair<Tensor, Tensor> topk_scan_impl(const Tensor& x, int d, int64_t k, bool largest) {
  Tensor t = x.dim() == 0 ? x.reshape(IntList{1}) : x;
  DType dt = t.dtype();
  if (dt == DType::Float16 || dt == DType::BFloat16) t = t.to(DType::Float32);
  else if (dt == DType::Bool) t = t.to(DType::UInt8);
  t = t.contiguous();
  int64_t O = 1, I = 1;
  for (int j = 0; j < d; ++j) O *= t.size(j);
  for (int j = d + 1; j < t.dim(); ++j) I *= t.size(j);
  const int64_t L = t.size(d);
  IntList shape = t.shape();
  shape[d] = k;
  Tensor v = Tensor::empty(shape, t.dtype(), x.device());
  Tensor i = Tensor::empty(shape, DType::Int64, x.device());
  if (O * I > 0)
    topk_op.get(x.device().type)(v.view(IntList{O, k, I}), i.view(IntList{O, k, I}), t.view(IntList{O, L, I}),
                                 largest);
  if (v.dtype() != x.dtype()) v = v.to(x.dtype());
  if (x.dim() == 0) return {v.reshape(IntList{}), i.reshape(IntList{})};
  return {v, i};
}

}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending) {
  const int d = norm_dim(dim, x.dim(), "sort");
  return sort_impl(x, d, x.dim() ? x.size(d) : 1, descending);
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  const int d = norm_dim(dim, x.dim(), "topk");
  const int64_t L = x.dim() ? x.size(d) : 1;
  DLCORE_CHECK(k >= 0 && k <= L, RuntimeError, "topk(): k (", k, ") is out of range for dimension ", d,
               " of size ", L, " (input ", x.shape().str(), ")");
  if (k >= 1 && k <= kTopkScanMaxK && topk_op.has(x.device().type)) return topk_scan_impl(x, d, k, largest);
  return sort_impl(x, d, k, largest);
}

std::pair<Tensor, Tensor> kthvalue(const Tensor& x, int64_t k, int64_t dim) {
  const int d = norm_dim(dim, x.dim(), "kthvalue");
  const int64_t L = x.dim() ? x.size(d) : 1;
  DLCORE_CHECK(k >= 1 && k <= L, RuntimeError, "kthvalue(): k (", k, ") is out of range for dimension ", d,
               " of size ", L, " (input ", x.shape().str(), ")");
  if (!select_op.has(x.device().type)) {
    auto [v, i] = sort_impl(x, d, k, false);
    const int dd = x.dim() ? d : 0;
    return {v.dim() ? v.slice(dd, k - 1, k, 1) : v, i.dim() ? i.slice(dd, k - 1, k, 1).contiguous() : i};
  }
  int64_t L2 = 0;
  Tensor rows = rows_for_sort(x, d, L2);
  const int64_t R = rows.size(0);
  Tensor v = Tensor::empty(IntList{R, 1}, rows.dtype(), x.device());
  Tensor i = Tensor::empty(IntList{R, 1}, DType::Int64, x.device());
  if (R > 0) select_op.get(x.device().type)(v, i, rows, k);
  if (v.dtype() != x.dtype()) v = v.to(x.dtype());
  return {from_rows(v, x, d, 1), from_rows(i, x, d, 1)};
}

Tensor searchsorted_cpu(const Tensor& seq, const Tensor& values, bool right) {
  DLCORE_CHECK(seq.dim() == 2 && values.dim() == 2 && seq.dtype() == values.dtype() && seq.is_contiguous() &&
                   values.is_contiguous() && (seq.size(0) == values.size(0) || seq.size(0) == 1),
               ValueError, "searchsorted_cpu(): contiguous [B, M] and [B, N] tensors of one dtype expected, got ",
               seq.shape().str(), " and ", values.shape().str());
  const int64_t B = values.size(0), N = values.size(1), M = seq.size(1);
  Tensor out = Tensor::empty({B, N}, DType::Int64, Device());
  int64_t* o = out.data<int64_t>();
  dispatch_dtype(seq.dtype(), "searchsorted", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16> || std::is_same_v<T, bool>) {
      DLCORE_THROW(TypeError, "searchsorted_cpu(): no kernel for ", dtype_name(seq.dtype()));
    } else {
      const T* sp = seq.data<T>();
      const T* vp = values.data<T>();
      const bool shared = seq.size(0) == 1;
      parallel_for(0, B * N, 4096, [&](int64_t j0, int64_t j1) {
        for (int64_t j = j0; j < j1; ++j) {
          const T* s = sp + (shared ? 0 : (j / N) * M);
          const T v = vp[j];
          int64_t lo = 0, hi = M;
          while (lo < hi) {  // the composed search's steps (same answers where NaN breaks the order), no branch
            const int64_t mid = (lo + hi) >> 1;
            const int64_t g = right ? !(s[mid] > v) : !(s[mid] >= v);
            lo += g * (mid + 1 - lo);
            hi = mid + g * (hi - mid);
          }
          o[j] = lo;
        }
      });
    }
  });
  return out;
}

std::pair<Tensor, Tensor> cum_extreme_cpu(const Tensor& x, int64_t O, int64_t L, int64_t I, bool is_max) {
  DLCORE_CHECK(x.device().type == DeviceType::CPU && x.is_contiguous() && x.numel() == O * L * I, ValueError,
               "cum_extreme_cpu(): a contiguous cpu tensor of ", O * L * I, " elements is needed");
  Tensor vals = Tensor::empty(x.shape(), x.dtype(), Device());
  Tensor idx = Tensor::empty(x.shape(), DType::Int64, Device());
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xp = x.data<T>();
    T* vp = vals.data<T>();
    int64_t* ip = idx.data<int64_t>();
    parallel_for(0, O, std::max<int64_t>(1, 16384 / std::max<int64_t>(L * I, 1)), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* xl = xp + o * L * I;
        T* vl = vp + o * L * I;
        int64_t* il = ip + o * L * I;
        if (I == 1) {  // one line: the running pair in registers (selects, no branch)
          T best = xl[0];
          int64_t bi = 0;
          vl[0] = best;
          il[0] = 0;
          for (int64_t l = 1; l < L; ++l) {
            const T r = xl[l];
            bool take = is_max ? r >= best : r <= best;
            if constexpr (std::is_floating_point_v<T>) take = (r != r) || (best == best && take);
            best = take ? r : best;
            bi = take ? l : bi;
            vl[l] = best;
            il[l] = bi;
          }
          continue;
        }
        for (int64_t i = 0; i < I; ++i) {
          vl[i] = xl[i];
          il[i] = 0;
        }
        for (int64_t l = 1; l < L; ++l) {
          const T* xr = xl + l * I;
          const T* pv = vl + (l - 1) * I;
          const int64_t* pi = il + (l - 1) * I;
          T* cv = vl + l * I;
          int64_t* ci = il + l * I;
          for (int64_t i = 0; i < I; ++i) {
            const T r = xr[i], p = pv[i];
            bool take = is_max ? r >= p : r <= p;
            if constexpr (std::is_floating_point_v<T>) take = (r != r) || (p == p && take);
            cv[i] = take ? r : p;
            ci[i] = take ? l : pi[i];
          }
        }
      }
    });
  };
  switch (x.dtype()) {
    case DType::Float32: run(TypeTag<float>{}); break;
    case DType::Float64: run(TypeTag<double>{}); break;
    case DType::Int32: run(TypeTag<int32_t>{}); break;
    case DType::Int64: run(TypeTag<int64_t>{}); break;
    default: DLCORE_THROW(TypeError, "cum_extreme_cpu(): no kernel for ", dtype_name(x.dtype()));
  }
  return {vals, idx};
}

Tensor cumulative(const Tensor& x, int64_t dim, bool prod, bool reverse) {
  const char* op = prod ? "cumprod" : "cumsum";
  const int d = norm_dim(dim, x.dim(), op);
  DType dt = x.dtype();
  DType kt = is_floating(dt) ? (dt == DType::Float64 ? DType::Float64 : DType::Float32) : DType::Int64;
  Tensor t = x.to(kt).contiguous();
  int64_t O = 1, I = 1;
  for (int j = 0; j < d; ++j) O *= t.size(j);
  for (int j = d + 1; j < t.dim(); ++j) I *= t.size(j);
  const int64_t L = x.dim() ? t.size(d) : 1;
  Tensor out = Tensor::empty(t.shape(), kt, x.device());
  if (t.numel())
    scan_op.get(x.device().type)(out.view(IntList{O, L, I}), t.view(IntList{O, L, I}), prod, reverse);
  // 16-bit floats come back to their dtype (integers stay int64, like torch)
  return is_floating(dt) && dt != kt ? out.to(dt) : out;
}

}  // namespace dlcore
