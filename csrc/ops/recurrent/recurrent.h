// Recurrent layers: LSTM, GRU and Elman RNN (tanh / relu), one layer (one or two directions) per kernel call, with
// backpropagation through time. PyTorch's formulas, gate order and parameter layout, so weights move one to one.
//
// Letters: T steps, N batch, I input size, H hidden size, D directions (1 or 2), G gates (LSTM 4, GRU 3, RNN 1).
// Layout (PyTorch's, batch_first is handled by the Python layer with views):
//   x  [T, N, I]          rows (t, n) must be evenly spaced: x.stride(0) == N * x.stride(1) (else copied)
//   h0, c0 [D, N, H]      initial states (zeros when the caller has none)
//   w_ih [G*H, I], w_hh [G*H, H], b_ih [G*H], b_hh [G*H]   (one set per direction; biases optional)
//   y  [T, N, D*H]        direction d writes columns [d*H, (d+1)*H); the reverse direction runs t = T-1 .. 0
//   hn, cn [D, N, H]      the state after each direction's last step
//
// Formulas (sigma = logistic sigmoid, * elementwise; h = h_{t-1}, c = c_{t-1}):
//   LSTM (gates i, f, g, o):  [i f g o]_pre = x W_ih^T + b_ih + h W_hh^T + b_hh
//        i = sigma(i_pre), f = sigma(f_pre), g = tanh(g_pre), o = sigma(o_pre)
//        c' = f * c + i * g,  h' = o * tanh(c')
//   GRU (gates r, z, n; b_hn stays inside the product with r, as in PyTorch):
//        gx = x W_ih^T + b_ih,  gh = h W_hh^T + b_hh
//        r = sigma(gx_r + gh_r), z = sigma(gx_z + gh_z), n = tanh(gx_n + r * gh_n)
//        h' = (1 - z) * n + z * h
//   RNN: h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu
//
// Sequence forward: the input projection of all T steps is ONE GEMM, computed feature-major:
// GX [G*H, T*N] = W_ih [G*H, I] x X^T (biases fused as a per-row epilogue), so step t's gates are the column block
// GX[:, t*N:(t+1)*N]. Each step then runs one recurrent GEMM for all gates, W_hh [G*H, H] x h_{t-1}^T [H, N]
// (accumulated with beta = 1 into GX for LSTM/RNN; into a separate [3H, N] buffer for GRU, whose n gate needs
// W_hn h + b_hn alone), and one fused pointwise pass over the H x N elements. Feature-major keeps the big operand
// (the weight) as the GEMM's A, which it streams unpacked from cache, and only the small h^T gets packed per step.
// The weight copies made once per call (W_hh, and W_hh^T for the backward) get a padded leading dimension so their
// rows never alias in L1 (a multiple of 1 KiB would make the GEMM pack them every step).
// Saved for the backward (workspace, per direction; hT = h_t^T per step, [T, H, N]):
//   LSTM: GX [4H, T*N] (the activations i, f, g, o) and cT [T, H, N] (c_t^T).
//   GRU:  S [T, 4H, N] = (r, z, n, W_hn h + b_hn) per step, and hT.
//   RNN:  hT.
// y [T, N, D*H] is written from hT by one transpose pass after the loop.
// Backward through time: per step (last to first) one fused pointwise pass producing the pre-activation gate
// gradients dG_t^T (columns of dG [G*H, T*N]) and one GEMM dh_{t-1}^T = W_hh^T dG_t^T (+ the direct GRU term z dh).
// After the loop, whole-sequence GEMMs: dx = dGx^T W_ih (the two directions accumulate), dW_ih = dGx X (one GEMM
// over all T), dW_hh = dGh h_prev (one GEMM over the T-1 steps whose h_prev is a row block of y, plus one N-column
// GEMM for h0), db = row sums of dGx / dGh.
// CUDA (recurrent_kernels.cuh, recurrent_cuda.cu): the same algorithm, layout and saved workspace, with one fused
// step kernel per step in each direction and general-strided step views instead of the CPU's transposes.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/common.h"
#include "core/registry.h"
#include "core/tensor.h"

namespace dlcore {

enum class RnnMode : int { LSTM = 0, GRU = 1, RNN_TANH = 2, RNN_RELU = 3 };

inline int rnn_num_gates(RnnMode m) { return m == RnnMode::LSTM ? 4 : m == RnnMode::GRU ? 3 : 1; }
inline const char* rnn_mode_name(RnnMode m) {
  return m == RnnMode::LSTM ? "lstm" : m == RnnMode::GRU ? "gru" : m == RnnMode::RNN_TANH ? "rnn_tanh" : "rnn_relu";
}

// ------------------------------------------------------------------------------------------------ shared math
// Written once for scalars (float, double) and SIMD vectors (GCC vector types): V is the value type, S its scalar.
// The activations (sigmoid, tanh) are applied by the caller (libm in the scalar kernels, vecmath.h in the SIMD ones,
// std::exp / std::tanh in the CUDA kernels of recurrent_kernels.cuh); these functions hold the cell algebra, shared by
// the CPU row kernels and the CUDA step kernels.

template <class S>
DLCORE_HOSTDEV S rnn_sigmoid(S x) { return S(1) / (S(1) + std::exp(-x)); }

// LSTM state update: c' = f c + i g. (h' = o tanh(c') by the caller.)
template <class S, class V>
DLCORE_HOSTDEV V lstm_cell_state(V i, V f, V g, V c_prev) { return f * c_prev + i * g; }

// LSTM backward for one element. Inputs: the activations i, f, g, o, tc = tanh(c_t), c_prev, dh (total gradient of
// h_t) and dc (gradient of c_t arriving from step t+1). Outputs: the pre-activation gradients and dc_prev.
template <class S, class V>
DLCORE_HOSTDEV void lstm_cell_backward(V i, V f, V g, V o, V tc, V c_prev, V dh, V dc, V& di, V& df, V& dg, V& dout,
                                       V& dc_prev) {
  V dct = dc + dh * o * (S(1) - tc * tc);
  dout = dh * tc * o * (S(1) - o);
  di = dct * g * i * (S(1) - i);
  dg = dct * i * (S(1) - g * g);
  df = dct * c_prev * f * (S(1) - f);
  dc_prev = dct * f;
}

// GRU: the pre-activation of n is gx_n + r * gh_n; the new state is (1 - z) n + z h.
template <class S, class V>
DLCORE_HOSTDEV V gru_n_pre(V gxn, V r, V ghn) { return gxn + r * ghn; }
template <class S, class V>
DLCORE_HOSTDEV V gru_cell_state(V z, V n, V h_prev) { return n + z * (h_prev - n); }

// GRU backward for one element: from r, z, n, ghn = W_hn h + b_hn, h_prev and dh, the pre-activation gradients of
// the input part (dr, dz, dnx) and of the hidden part (dr, dz, dnh = dnx * r, so only dnh differs), and the direct
// term dh_prev = z dh (the GEMM adds dGh W_hh).
template <class S, class V>
DLCORE_HOSTDEV void gru_cell_backward(V r, V z, V n, V ghn, V h_prev, V dh, V& dr, V& dz, V& dnx, V& dnh,
                                      V& dh_prev) {
  V dn = dh * (S(1) - z);
  dnx = dn * (S(1) - n * n);
  dnh = dnx * r;
  dr = dnx * ghn * r * (S(1) - r);
  dz = dh * (h_prev - n) * z * (S(1) - z);
  dh_prev = dh * z;
}

// RNN derivatives in terms of the output h: tanh' = 1 - h^2; relu' = [h > 0].
template <class S, class V>
DLCORE_HOSTDEV V rnn_tanh_grad(V h, V dh) { return dh * (S(1) - h * h); }
template <class S>
DLCORE_HOSTDEV S rnn_relu(S x) { return x > S(0) ? x : (x != x ? x : S(0)); }
template <class S>
DLCORE_HOSTDEV S rnn_relu_grad(S h, S dh) { return h > S(0) ? dh : S(0); }

// ------------------------------------------------------------------------------------------------ row kernels
// The fused pointwise passes. The drivers keep one step's gates feature-major ("transposed": one row per hidden
// unit j, the N batch elements of that row contiguous), so the recurrent GEMM is W_hh [G*H, H] x h^T [H, N] with the
// weight as the unpacked, streamed A operand (see recurrent_cpu.cpp). A kernel processes `rows` rows of `len`
// contiguous elements; a View names a buffer: row r of gate k starts at p + r * ld + k * gs.
// The scalar versions (templated on float/double) live in recurrent_cpu.cpp; float32 AVX2/AVX-512 versions in
// recurrent_avx2.cpp/recurrent_avx512.cpp (recurrent_loops.h). dy.p may be null (no output gradient).
template <class T>
struct View {
  T* p;
  int64_t ld;
  int64_t gs;
  DLCORE_HOSTDEV T* at(int64_t r, int gate = 0) const { return p + r * ld + gate * gs; }
};

template <class T>
struct RecurrentKernels {
  using V = View<T>;
  using CV = View<const T>;
  // G (in: pre-activations i, f, g, o; out: the activations), c_prev -> c, h.
  void (*lstm_fwd)(int64_t rows, int64_t len, V G, CV cp, V c, V h) = nullptr;
  // dh = dhr + dy; dc (in: dc_t, out: dc_{t-1}); dG (out: pre-activation gradients).
  void (*lstm_bwd)(int64_t rows, int64_t len, CV G, CV cp, CV c, CV dhr, CV dy, V dc, V dG) = nullptr;
  // gx (input part with b_ih), gh (hidden part with b_hh), h_prev -> h, S = (r, z, n, ghn).
  void (*gru_fwd)(int64_t rows, int64_t len, CV gx, CV gh, CV hp, V h, V S) = nullptr;
  // dh = dhr + dy; out: dgx, dgh, and dhr overwritten with the direct term z * dh.
  void (*gru_bwd)(int64_t rows, int64_t len, CV S, CV hp, V dhr, CV dy, V dgx, V dgh) = nullptr;
  // h = act(G) (tanh, or relu when relu != 0).
  void (*rnn_fwd)(int64_t rows, int64_t len, int relu, CV G, V h) = nullptr;
  // dG = act'(h) * (dhr + dy).
  void (*rnn_bwd)(int64_t rows, int64_t len, int relu, CV h, CV dhr, CV dy, V dG) = nullptr;
};

// Per-ISA float32 tables (filled in the ISA translation units).
namespace avx2 { void fill_recurrent_kernels(RecurrentKernels<float>& k); }
namespace avx512 { void fill_recurrent_kernels(RecurrentKernels<float>& k); }

// ------------------------------------------------------------------------------------------------ layer ops

// One direction's parameters (b_ih/b_hh undefined when the layer has no bias).
struct RnnWeights {
  Tensor w_ih, w_hh, b_ih, b_hh;
};

// Forward of one layer, all its directions (dirs.size() = D). x [T, N, I] with evenly spaced rows; h0 (and c0 for
// LSTM) [D, N, H] contiguous; y [T, N, D*H] contiguous (written); hn, cn [D, N, H] contiguous (written).
// ws receives, per direction, the saved tensors listed above (when training; otherwise it may stay empty).
using RnnLayerForwardFn = void(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                               const std::vector<RnnWeights>& dirs, const Tensor& y, const Tensor& hn,
                               const Tensor& cn, std::vector<std::vector<Tensor>>& ws, bool training);

// Backward of one layer. dy [T, N, D*H], dhn/dcn [D, N, H] contiguous or undefined (zero). Outputs (allocated by the
// caller, contiguous): dx [T, N, I] (undefined: not needed), dh0/dc0 [D, N, H] (the CPU kernel also accepts an
// undefined dh0: the h0 gradient is then not computed, which skips the first step's dh GEMM), grads[d] the parameter
// gradients
// (shapes of the parameters; biases undefined when absent).
using RnnLayerBackwardFn = void(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                                const std::vector<RnnWeights>& dirs, const Tensor& y,
                                const std::vector<std::vector<Tensor>>& ws, const Tensor& dy, const Tensor& dhn,
                                const Tensor& dcn, const Tensor& dx, const Tensor& dh0, const Tensor& dc0,
                                const std::vector<RnnWeights>& grads);

inline Op<RnnLayerForwardFn> rnn_layer_forward_op{"rnn_layer_forward"};
inline Op<RnnLayerBackwardFn> rnn_layer_backward_op{"rnn_layer_backward"};

// The layer geometry shared by the CPU and CUDA implementations.
namespace rnn {
struct Dims {
  int64_t T, N, I, H, D, G;      // G = gates * H
  int64_t rs_x, cs_x;            // x as a [T*N, I] matrix
  int64_t ldy;                   // D*H
};

// The step index for position s of a direction's walk (the reverse direction walks t = T-1 .. 0).
inline int64_t step_at(int64_t s, int64_t T, bool rev) { return rev ? T - 1 - s : s; }

inline Dims make_dims(RnnMode mode, const Tensor& x, const std::vector<RnnWeights>& dirs) {
  Dims d;
  d.T = x.size(0);
  d.N = x.size(1);
  d.I = x.size(2);
  d.H = dirs[0].w_hh.size(1);
  d.D = (int64_t)dirs.size();
  d.G = rnn_num_gates(mode) * d.H;
  // x as a [T*N, I] matrix: its row stride is stride(1) (N > 1), stride(0) (N == 1), anything when T*N == 1.
  d.rs_x = d.N > 1 ? x.stride(1) : d.T > 1 ? x.stride(0) : std::max<int64_t>(1, d.I * x.stride(2));
  d.cs_x = x.stride(2);
  d.ldy = d.D * d.H;
  DLCORE_CHECK(d.rs_x > 0 && d.cs_x > 0 && (d.N == 1 || d.T == 1 || x.stride(0) == d.N * x.stride(1)), ValueError,
               "rnn_layer: x rows must be evenly spaced (x.stride(0) == N * x.stride(1))");
  return d;
}
}  // namespace rnn

}  // namespace dlcore
