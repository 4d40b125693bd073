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

// off[i] = sum_k wrap(idx[k][i], sizes[k]) * strides[k]; all idx[k] int64 of one shape. Result contiguous int64, on
// the indices' device. allow_negative = false: negative entries raise instead of wrapping (gather, scatter,
// index_select, index_add, as in PyTorch). The IndexError names the first bad entry (index k, then position) and
// dimension dim_label (k when dim_label < 0). On a device with an index_offsets_op kernel (cuda) the offsets are
// computed there and only the first fault (if any) crosses to the host; otherwise on the host.
Tensor index_offsets(const std::vector<Tensor>& idx, const std::vector<int64_t>& sizes,
                     const std::vector<int64_t>& strides, const char* op, bool allow_negative = true,
                     int dim_label = -1);

// The device side of index_offsets: writes off (contiguous int64, idx[0]'s shape and device; every idx[k] int64 of
// that shape, any strides) and returns the first out-of-range entry (smallest k, then smallest flat position i),
// k = -1 when there is none.
struct IndexFault {
  int64_t k = -1, i = 0, value = 0;
};
using IndexOffsetsFn = IndexFault(const Tensor& off, const std::vector<Tensor>& idx,
                                  const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                                  bool allow_negative);
inline Op<IndexOffsetsFn> index_offsets_op{"index_offsets"};

using GatherByOffsetFn = void(const Tensor& out, const Tensor& src, const Tensor& off);
using ScatterByOffsetFn = void(const Tensor& dst, const Tensor& off, const Tensor& values, bool accumulate);

inline Op<GatherByOffsetFn> gather_by_offset_op{"gather_by_offset"};

// index_select of a contiguous cpu tensor x along dim into the contiguous out: one memcpy per selected slice (the
// dims after dim are contiguous in both), off = the checked offsets idx * stride(dim) (contiguous int64 on the cpu).
// [256,1000] float32, 512 rows selected, 1 thread: 194 us through gather_by_offset's per-element offsets, 37 here.
void index_select_contiguous_cpu(const Tensor& out, const Tensor& x, const Tensor& off, int dim);
inline Op<ScatterByOffsetFn> scatter_by_offset_op{"scatter_by_offset"};

// index_add_ of a contiguous cpu src into the contiguous cpu out along dim: out[o, idx[k], :] += src[o, k, :] as
// rows of the dims after dim (vectorised adds), the work split over the outer index and the row's columns (so no two
// threads add into one element, repeated indices included); off = idx * stride(dim), checked. false (nothing done)
// for the dtypes it leaves to scatter_by_offset (bool, 16-bit floats). [256,1000] float32, 256 rows added, 1
// thread: 243 us by per-element offsets, torch 64.
bool index_add_contiguous_cpu(const Tensor& out, const Tensor& src, const Tensor& off, int dim);

// Counts of each value of a contiguous 1-D int64 cpu tensor x whose values lie in [0, size) (checked by the
// caller), as int64 [size]: per-thread counts of a chunk each, then summed.
Tensor bincount_cpu(const Tensor& x, int64_t size);

// flip and roll of a contiguous cpu tensor x into the contiguous out (same shape): along each dim d the output
// index i reads x at flip[d] ? n - 1 - i : (i - shift[d]) mod n (shift in [0, n)). The dims after the last moved
// one are one contiguous block (a memcpy); when the last dim itself moves, its rows are reversed (flip) or copied
// in two pieces (roll). [256,1000] float32 flip(1), 1 thread: 540 us by index_select's per-element copies, torch 22.
void flip_roll_contiguous_cpu(const Tensor& out, const Tensor& x, const std::vector<bool>& flip,
                              const std::vector<int64_t>& shift);

// cat along dim d of cpu tensors (same rank, sizes equal but along d) into out (contiguous, cpu): the contiguous
// inputs of out's dtype by memcpy (big pieces split over the threads), the others by a casting copy into their
// slice. [256,1000] x 2 along dim 0, 1 thread: 47 us by a Python loop of slice copies, torch 37.
void cat_cpu(const Tensor& out, const std::vector<Tensor>& ts, int d);
// The same into a new contiguous cpu tensor of dtype dt (sizes of ts[0], the sizes along d summed).
Tensor cat_cpu(const std::vector<Tensor>& ts, int d, DType dt);

// tril (upper false) / triu (upper true) of a contiguous cpu tensor into the contiguous out: per row of each
// matrix a copy of the kept columns and zeros elsewhere (was a masked_fill with a broadcast mask: 5x slower).
void triangle_contiguous_cpu(const Tensor& out, const Tensor& x, int64_t diagonal, bool upper);

// Index-map padding (F.pad's reflect / replicate / circular modes): src is a contiguous [..., D1..Dk] tensor
// (k = maps.size() in 1..3), out the contiguous [..., O1..Ok] result with Oj = maps[j].size() and
//   out[p, i1..ik] = src[p, maps[0][i1], .., maps[k-1][ik]]      (every map value in [0, Dj)).
// The backward sums: gin[p, maps[0][i1], ..] += g[p, i1, ..] (gin contiguous, overwritten). CPU kernels here;
// other devices go through gather_by_offset / scatter_by_offset (csrc/bindings/index_bind.cpp).
using PadIndexFn = void(const Tensor& out, const Tensor& src, const std::vector<std::vector<int64_t>>& maps);
using PadIndexBackwardFn = void(const Tensor& gin, const Tensor& g, const std::vector<std::vector<int64_t>>& maps);
inline Op<PadIndexFn> pad_index_op{"pad_index"};
inline Op<PadIndexBackwardFn> pad_index_backward_op{"pad_index_backward"};

// Two-tap linear resampling along one dim (interpolate's linear / bilinear / trilinear, one dim at a time): x a
// contiguous [O, n, I] cpu float tensor (dim d of size n, I the product of the later dims), out [O, m, I] with
//   out[o, j, :] = w0[j] x[o, i0[j], :] + w1[j] x[o, i1[j], :]     (every index in [0, n)).
// The backward (gin [O, n, I], overwritten): gin[o, i0[j], :] += w0[j] g[o, j, :], gin[o, i1[j], :] += w1[j] g[o, j, :].
void lerp_dim_cpu(const Tensor& out, const Tensor& x, int64_t O, int64_t n, int64_t I, const std::vector<int64_t>& i0,
                  const std::vector<int64_t>& i1, const std::vector<double>& w0, const std::vector<double>& w1);
void lerp_dim_backward_cpu(const Tensor& gin, const Tensor& g, int64_t O, int64_t n, int64_t I,
                           const std::vector<int64_t>& i0, const std::vector<int64_t>& i1,
                           const std::vector<double>& w0, const std::vector<double>& w1);

// pixel_shuffle (inverse false: [B, C r^2, H, W] -> [B, C, H r, W r]) and pixel_unshuffle (inverse true: the
// reverse) of a contiguous cpu tensor of any dtype (flattened leading dims B): per output row, r input rows
// interleaved (or one input row split into r), element copies by item size. Returns the new contiguous tensor.
Tensor pixel_shuffle_cpu(const Tensor& x, int64_t r, bool inverse);

// F.grid_sample on the cpu for 4-D input in bilinear or nearest mode (padding 0 zeros, 1 border, 2 reflection),
// float32/float64 (grid_sample_cpu.cpp): out [N, C, Ho, Wo] from x [N, C, H, W] at grid [N, Ho, Wo, 2]; the backward
// returns (dx, dgrid), each undefined unless asked for.
Tensor grid_sample2d_cpu(const Tensor& x, const Tensor& grid, bool nearest, int padding, bool align);
std::pair<Tensor, Tensor> grid_sample2d_backward_cpu(const Tensor& g, const Tensor& x, const Tensor& grid, bool nearest,
                                                     int padding, bool align, bool need_x, bool need_grid);

// nonzero(x): the coordinates of x's non-zero elements (x != 0; NaN counts as non-zero, as in NumPy and PyTorch) in
// row-major order, as a new contiguous int64 [count, x.dim()] tensor on x's device. Only the count crosses to the
// host (the output's size). Kernels in index_cpu.cpp and index_cuda.cu.
using NonzeroFn = Tensor(const Tensor& x);
inline Op<NonzeroFn> nonzero_op{"nonzero"};

}  // namespace dlcore
