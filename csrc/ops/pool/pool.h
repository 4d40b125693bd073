// 2-D pooling over NCHW: max_pool2d (with indices), avg_pool2d, adaptive_avg_pool2d; forward and backward.
// (lp_pool2d is composed from avg_pool2d in the Python layer, as in torch.)
//
// Layout: input contiguous, viewed as P = N*C planes of [H, W]; output [P, Ho, Wo]. For window size k, stride s,
// padding p, dilation d on a side of length L:
//   Lo = floor((L + 2p - d (k - 1) - 1 + (ceil_mode ? s - 1 : 0)) / s) + 1,
//   and with ceil_mode the last window must start inside the input or the left padding: if (Lo - 1) s >= L + p,
//   Lo -= 1 (torch's rule). Requires p <= k / 2 and Lo >= 1.
// max_pool2d: y = max over the window (padding never wins); NaN wins; ties: the first in row-major window order.
//   indices hold h * W + w within the plane (torch's convention). The backward recomputes the argmax from the
//   input with the same scan (no index tensor is needed): gx[argmax] += g.
// avg_pool2d: y = sum over the valid window / D, with D = divisor_override, or the window size clipped to the
//   padded input (count_include_pad), or the number of valid elements; backward spreads g / D over the window.
// adaptive_avg_pool2d: output cell i covers [floor(i L / Lo), ceil((i + 1) L / Lo)); y = mean; backward g / area.
#pragma once
#include <cstdint>
#include <limits>
#include <utility>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

struct Pool2dParams {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool ceil_mode = false;
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0 = none
};

// Output length of one side (see the header comment); may be < 1 for invalid input (the frontend raises).
DLCORE_HOSTDEV int64_t pool_out_size(int64_t L, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t num = L + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  int64_t o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
  if (ceil_mode && o > 0 && (o - 1) * s >= L + p) --o;
  return o;
}

DLCORE_HOSTDEV int64_t adaptive_start(int64_t i, int64_t L, int64_t Lo) { return (i * L) / Lo; }
DLCORE_HOSTDEV int64_t adaptive_end(int64_t i, int64_t L, int64_t Lo) { return ((i + 1) * L + Lo - 1) / Lo; }

// The max-pool scan step: v replaces the running max m when larger or NaN (torch's rule).
template <class T> DLCORE_HOSTDEV bool max_pool_takes(T v, T m) { return v > m || v != v; }

// The max and argmax (h * W + w within the plane) of output (oh, ow)'s window: the torch scan in row-major window
// order (the first valid element starts it, then max_pool_takes). Returns -1 (and m = -inf) for a window with no
// valid element (cannot happen for the sizes the frontend accepts). Used by the CPU loops and the CUDA kernels.
template <class T>
DLCORE_HOSTDEV int64_t max_pool_window(const T* plane, int64_t H, int64_t W, int64_t oh, int64_t ow,
                                       const Pool2dParams& p, T* mout) {
  int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  T m = -std::numeric_limits<T>::infinity();
  int64_t best = -1;
  for (int64_t i = 0; i < p.kh; ++i) {
    int64_t h = h0 + i * p.dh;
    if (h < 0 || h >= H) continue;
    const T* row = plane + h * W;
    for (int64_t j = 0; j < p.kw; ++j) {
      int64_t w = w0 + j * p.dw;
      if (w < 0 || w >= W) continue;
      T v = row[w];
      if (best < 0 || max_pool_takes(v, m)) {
        m = v;
        best = h * W + w;
      }
    }
  }
  *mout = m;
  return best;
}

// avg_pool2d's window of output (oh, ow) clipped to the input, [h0, h1) x [w0, w1), and its divisor (torch's rule:
// divisor_override, else the window clipped to the padded input when count_include_pad, else the valid count).
struct AvgPoolWindow {
  int64_t h0, h1, w0, w1, div;
};
DLCORE_HOSTDEV AvgPoolWindow avg_pool_window(int64_t oh, int64_t ow, int64_t H, int64_t W, const Pool2dParams& p) {
  int64_t h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  int64_t h1 = h0 + p.kh < H + p.ph ? h0 + p.kh : H + p.ph, w1 = w0 + p.kw < W + p.pw ? w0 + p.kw : W + p.pw;
  int64_t pool_size = (h1 - h0) * (w1 - w0);
  h0 = h0 > 0 ? h0 : 0;
  w0 = w0 > 0 ? w0 : 0;
  h1 = h1 < H ? h1 : H;
  w1 = w1 < W ? w1 : W;
  int64_t div = p.divisor_override ? p.divisor_override : (p.count_include_pad ? pool_size : (h1 - h0) * (w1 - w0));
  return {h0, h1, w0, w1, div};
}

// The sum of an average-pooling window in the CPU loops' order (so that the CUDA kernels give the same bits): over
// the window's columns of the column sums of its rows, each column summed from its first row down.
template <class T>
DLCORE_HOSTDEV T window_col_sum(const T* plane, int64_t W, int64_t h0, int64_t h1, int64_t w0, int64_t w1) {
  T s = T(0);
  for (int64_t w = w0; w < w1; ++w) {
    T c = plane[h0 * W + w];
    for (int64_t h = h0 + 1; h < h1; ++h) c += plane[h * W + w];
    s += c;
  }
  return s;
}
// The sum of a whole plane (global average pooling): 16 interleaved partial sums (lane j takes elements j, j + 16,
// ..., the last, partial group of 16 included), then the partial sums pairwise as a tree (j + 8 into j, then + 4,
// + 2, + 1). The CPU's AVX-512 loop sums 16 planes at once in exactly this order (one vector per plane, the tree as
// a transposing reduction of the 16 vectors), the CUDA kernels call this function: all give the same bits.
template <class T>
DLCORE_HOSTDEV T plane_sum16(const T* x, int64_t n) {
  T acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += x[i + j];
  for (int j = 0; j < 16; ++j)  // (constant indices: the CUDA compiler keeps acc in registers)
    if (i + j < n) acc[j] += x[i + j];
  for (int h = 8; h >= 1; h /= 2)
    for (int j = 0; j < h; ++j) acc[j] += acc[j + h];
  return acc[0];
}

// Shapes: in [P, H, W], out [P, Ho, Wo] (contiguous); indices int64 [P, Ho, Wo] or undefined.
using MaxPoolFwdFn = void(const Tensor& out, const Tensor& indices, const Tensor& in, const Pool2dParams& p);
using MaxPoolBwdFn = void(const Tensor& grad_in, const Tensor& grad_out, const Tensor& in, const Pool2dParams& p);
using AvgPoolFwdFn = void(const Tensor& out, const Tensor& in, const Pool2dParams& p);
using AvgPoolBwdFn = void(const Tensor& grad_in, const Tensor& grad_out, const Pool2dParams& p);
using AdaptiveAvgFwdFn = void(const Tensor& out, const Tensor& in);
using AdaptiveAvgBwdFn = void(const Tensor& grad_in, const Tensor& grad_out);
inline Op<MaxPoolFwdFn> max_pool2d_fwd_op{"max_pool2d"};
inline Op<MaxPoolBwdFn> max_pool2d_bwd_op{"max_pool2d_backward"};
inline Op<AvgPoolFwdFn> avg_pool2d_fwd_op{"avg_pool2d"};
inline Op<AvgPoolBwdFn> avg_pool2d_bwd_op{"avg_pool2d_backward"};
inline Op<AdaptiveAvgFwdFn> adaptive_avg_pool2d_fwd_op{"adaptive_avg_pool2d"};
inline Op<AdaptiveAvgBwdFn> adaptive_avg_pool2d_bwd_op{"adaptive_avg_pool2d_backward"};

// ---- frontend: x is [C, H, W] or [N, C, H, W] ----
// Returns (out, indices); indices only when with_indices.
std::pair<Tensor, Tensor> max_pool2d(const Tensor& x, const Pool2dParams& p, bool with_indices);
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Tensor& x, const Pool2dParams& p);
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t oh, int64_t ow);
// 3-D max pooling on the cpu (pool3d_cpu.cpp): values and flat d H W + h W + w indices of a float32/float64
// [N, C, D, H, W] tensor; out_size from the caller (ceil_mode applied there); windows of padding only: -inf, -1.
std::pair<Tensor, Tensor> max_pool3d_cpu(const Tensor& x, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
                                         const std::vector<int64_t>& p, const std::vector<int64_t>& d,
                                         const std::vector<int64_t>& out_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& x);

}  // namespace dlcore
