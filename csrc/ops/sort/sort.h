// Sorting and scans along one dimension: sort / argsort / topk / kthvalue and cumsum / cumprod.
//
// Kernels see contiguous tensors laid out by the frontends:
//   sort:  x [R, L] -> values [R, L] (x's dtype), indices [R, L] int64; each row ordered by sort_before below:
//          ascending or descending, NaN above every number (last ascending, first descending, like torch), equal
//          keys in index order (stable). topk is a sort's first k columns (on CPU: a threshold scan for k <= 32,
//          sort_topk.h; a partial sort or select-then-sort for larger k).
//   scan:  x [O, L, I] -> out [O, L, I] (same dtype: float32, float64 or int64), out[o, l, i] = x[o, 0, i] (+|*) ...
//          (+|*) x[o, l, i]; `reverse` scans from l = L-1 down (the gradient of cumsum). The CPU accumulates float32
//          in double (torch's CPU rule); the CUDA kernels in the element type.
#pragma once
#include <cstdint>
#include <utility>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

// The sort order of (value a, index ia) against (value b, index ib) within one row of length L: true when a comes
// first. Classes: numbers, then NaN (first instead when descending); padding (index >= L, the CUDA network's) last.
// Indices break ties, so every pair of distinct positions is ordered: any correct sort gives the stable result.
template <class T>
DLCORE_HOSTDEV bool sort_before(T a, int64_t ia, T b, int64_t ib, int64_t L, bool descending) {
  const int ca = ia >= L ? 3 : (a != a ? (descending ? 0 : 2) : 1);
  const int cb = ib >= L ? 3 : (b != b ? (descending ? 0 : 2) : 1);
  if (ca != cb) return ca < cb;
  if (ca == 1 && a != b) return descending ? a > b : a < b;
  return ia < ib;
}

// values/indices [R, K] with K = L (sort) or K = k <= L (topk: the first k in sort order); x [R, L].
using SortFn = void(const Tensor& values, const Tensor& indices, const Tensor& x, bool descending);
// out, x [O, L, I]; prod: cumprod instead of cumsum.
using ScanFn = void(const Tensor& out, const Tensor& x, bool prod, bool reverse);
inline Op<SortFn> sort_op{"sort"};
// values/indices [O, K, I] (x's dtype / int64): the first K in sort order of each line x[o, :, i] of x [O, L, I]
// (descending when largest); 1 <= K <= kTopkScanMaxK (sort_tables.h). CPU only (the threshold scan); other devices
// and larger k take sort_op's partial sort.
using TopkFn = void(const Tensor& values, const Tensor& indices, const Tensor& x, bool largest);
inline Op<TopkFn> topk_op{"topk"};
// value/index [R, 1]: the k-th (1-based) element of each row of x [R, L] in ascending sort order (NaN last, ties by
// index), found by selection (no sort). CPU only; other devices take topk's first k columns.
using SelectFn = void(const Tensor& value, const Tensor& index, const Tensor& x, int64_t k);
inline Op<SelectFn> select_op{"kthvalue"};
inline Op<ScanFn> scan_op{"cumsum"};

// ---- frontends (any layout, dim normalised and checked) ----
// (values, indices) along dim.
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending);
// The k largest (or smallest) along dim, in sort order.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest);
// The k-th smallest (1-based) along dim and its index, dim kept with size 1.
std::pair<Tensor, Tensor> kthvalue(const Tensor& x, int64_t k, int64_t dim);
// cumsum / cumprod along dim; the result dtype is x's (int64 for integer and bool inputs, like torch).
Tensor cumulative(const Tensor& x, int64_t dim, bool prod, bool reverse);

// searchsorted on the cpu: seq [B, M] and values [B or 1... see below] contiguous of one dtype (not 16-bit floats
// or bool); values [Bv, N] with Bv == B, or seq B == 1 shared by every row of values. Per value a binary search
// with torch's comparisons (go right unless seq[mid] >= v, or > v when right: NaN values land last); int64
// [Bv, N]. [1000] sorted, 100000 values, 1 thread: 18.7 ms by the composed vectorised search, torch 5.8 ms.
Tensor searchsorted_cpu(const Tensor& seq, const Tensor& values, bool right);

// cummax (is_max) / cummin along dim 1 of a contiguous cpu x viewed as [O, L, I] (float32/float64/int32/int64):
// one sequential pass per line (vectorised over I), torch's rules: a later element wins ties, NaN wins over numbers
// (a later NaN over an earlier one). values (x's dtype) and int64 indices, [O, L, I]. [256,1000] along dim 1, 1
// thread: 4.6 ms by a log-step scan of composed tensor ops.
std::pair<Tensor, Tensor> cum_extreme_cpu(const Tensor& x, int64_t O, int64_t L, int64_t I, bool is_max);

}  // namespace dlcore
