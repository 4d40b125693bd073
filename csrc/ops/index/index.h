// Index kernels: gathers and scatters through computed element offsets. Every indexing op of the Python layer
// (advanced indexing get/put, gather, scatter, scatter_add, index_select, index_add) reduces to two primitives:
//
//   gather_by_offset(out, src, off):            out[p] = src_base[src_offset(p) + off[p]]
//   scatter_by_offset(dst, off, values, acc):   dst_base[dst_offset(p) + off[p]] (=|+=) values[p]
//
// where p runs over out's (dst's) shape, src/dst are strided views of that same shape (a stride is 0 along the
// indexed dims, the offsets carry the index), off is an int64 tensor of that shape (any strides, 0 for broadcast),
// measured in elements. Offsets come from index_offsets(), which wraps negative indices and raises IndexError on
// out-of-range ones before anything is written. Scatters run on one thread (duplicate offsets accumulate in order).
#pragma once
#include <vector>

#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

// off[i] = sum_k wrap(idx[k][i], sizes[k]) * strides[k]; all idx[k] int64 of one shape. Result contiguous int64.
Tensor index_offsets(const std::vector<Tensor>& idx, const std::vector<int64_t>& sizes,
                     const std::vector<int64_t>& strides, const char* op);

using GatherByOffsetFn = void(const Tensor& out, const Tensor& src, const Tensor& off);
using ScatterByOffsetFn = void(const Tensor& dst, const Tensor& off, const Tensor& values, bool accumulate);

inline Op<GatherByOffsetFn> gather_by_offset_op{"gather_by_offset"};
inline Op<ScatterByOffsetFn> scatter_by_offset_op{"scatter_by_offset"};

// Index-map padding (F.pad's reflect / replicate / circular modes): src is a contiguous [..., D1..Dk] tensor
// (k = maps.size() in 1..3), out the contiguous [..., O1..Ok] result with Oj = maps[j].size() and
//   out[p, i1..ik] = src[p, maps[0][i1], .., maps[k-1][ik]]      (every map value in [0, Dj)).
// The backward sums: gin[p, maps[0][i1], ..] += g[p, i1, ..] (gin contiguous, overwritten). CPU kernels here;
// other devices go through gather_by_offset / scatter_by_offset (csrc/bindings/index_bind.cpp).
using PadIndexFn = void(const Tensor& out, const Tensor& src, const std::vector<std::vector<int64_t>>& maps);
using PadIndexBackwardFn = void(const Tensor& gin, const Tensor& g, const std::vector<std::vector<int64_t>>& maps);
inline Op<PadIndexFn> pad_index_op{"pad_index"};
inline Op<PadIndexBackwardFn> pad_index_backward_op{"pad_index_backward"};

}  // namespace dlcore
