// CPU strided iteration over several same-shape operands (operand 0 is the output).
//
// make_cpu_loop() orders the dimensions by the output's strides (innermost = smallest stride), drops size-1
// dimensions and merges dimensions that are contiguous in every operand, so most calls become one flat loop of n
// elements. run_cpu_loop() splits the elements into one chunk per thread (when there are enough) and calls
//   inner(char** ptrs, const int64_t* byte_strides, int64_t n)
// for each innermost row segment, with one pointer and one byte stride per operand. A 0-d operand has stride 0.
#pragma once
#include <algorithm>
#include <initializer_list>

#include "core/parallel.h"
#include "core/tensor.h"

namespace dlcore {

constexpr int kMaxLoopOperands = 4;

struct CpuLoop {
  int nops = 0;
  int ndim = 0;  // after coalescing; dimension 0 is the innermost
  int64_t numel = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims][kMaxLoopOperands] = {};  // bytes
  char* base[kMaxLoopOperands] = {};
};

inline CpuLoop make_cpu_loop(std::initializer_list<const Tensor*> ops) {
  CpuLoop L;
  L.nops = (int)ops.size();
  const Tensor& out = **ops.begin();
  int nd = out.dim();
  L.numel = out.numel();
  // Dimension order: by the output's stride, then by the first input's (so broadcast outputs keep reads linear).
  int order[kMaxDims];
  for (int i = 0; i < nd; ++i) order[i] = i;
  std::stable_sort(order, order + nd, [&](int x, int y) {
    for (const Tensor* t : ops) {
      if (t->dim() == 0) continue;
      int64_t sx = t->stride(x), sy = t->stride(y);
      if (sx == 0 || sy == 0) continue;
      if (sx != sy) return sx > sy;
    }
    return false;
  });
  int k = 0;
  for (int oi = nd - 1; oi >= 0; --oi) {  // innermost first
    int d = order[oi];
    if (out.size(d) == 1) continue;
    L.sizes[k] = out.size(d);
    int j = 0;
    for (const Tensor* t : ops) {
      L.strides[k][j] = t->dim() == 0 ? 0 : t->stride(d) * (int64_t)t->itemsize();
      ++j;
    }
    ++k;
  }
  // Merge dimension i+1 into i when every operand steps through both as one.
  int m = 0;
  for (int i = 0; i < k; ++i) {
    if (m > 0) {
      bool merge = true;
      for (int j = 0; j < L.nops; ++j)
        if (L.strides[i][j] != L.strides[m - 1][j] * L.sizes[m - 1]) merge = false;
      if (merge) {
        L.sizes[m - 1] *= L.sizes[i];
        continue;
      }
    }
    L.sizes[m] = L.sizes[i];
    for (int j = 0; j < L.nops; ++j) L.strides[m][j] = L.strides[i][j];
    ++m;
  }
  if (m == 0) {  // 0-d or all-ones shape: one element
    L.sizes[0] = 1;
    for (int j = 0; j < L.nops; ++j) L.strides[0][j] = 0;
    m = 1;
  }
  L.ndim = m;
  int j = 0;
  for (const Tensor* t : ops) L.base[j++] = static_cast<char*>(t->raw_data());
  return L;
}

// Elements per thread below which a loop stays on one thread.
constexpr int64_t kElementwiseGrain = 32768;

template <class Inner>
void run_cpu_loop(const CpuLoop& L, const Inner& inner, int64_t grain = kElementwiseGrain) {
  if (L.numel == 0) return;
  auto run_range = [&](int64_t begin, int64_t end) {
    int64_t idx[kMaxDims] = {};
    int64_t rem = begin;
    for (int d = 0; d < L.ndim; ++d) {
      idx[d] = rem % L.sizes[d];
      rem /= L.sizes[d];
    }
    char* ptrs[kMaxLoopOperands];
    int64_t s0[kMaxLoopOperands];
    for (int j = 0; j < L.nops; ++j) s0[j] = L.strides[0][j];
    int64_t pos = begin;
    while (pos < end) {
      for (int j = 0; j < L.nops; ++j) {
        int64_t off = 0;
        for (int d = 0; d < L.ndim; ++d) off += idx[d] * L.strides[d][j];
        ptrs[j] = L.base[j] + off;
      }
      int64_t n = std::min(L.sizes[0] - idx[0], end - pos);
      inner(ptrs, s0, n);
      pos += n;
      idx[0] += n;
      for (int d = 0; d + 1 < L.ndim && idx[d] == L.sizes[d]; ++d) {
        idx[d] = 0;
        ++idx[d + 1];
      }
    }
  };
  parallel_for(0, L.numel, grain, run_range);
}

}  // namespace dlcore
