// CUDA recurrent layers (LSTM, GRU, RNN tanh/relu): the kernels and the sequence drivers (templated on the element
// type; float in recurrent_cuda.cu, double in recurrent_f64_cuda.cu). Semantics, formulas and the saved-tensor
// layout are those of recurrent.h and the CPU op (recurrent_cpu.cpp), so the workspace a forward returns has the same
// shapes and meaning on both devices.
//
// Per direction, forward:   GX [G*H, T*N] = W_ih X^T + bias        (ONE GEMM over all steps, bias per row)
//                           per step: GX[:, t] += W_hh h_{t-1}^T    (GRU: GH = W_hh h^T + b_hh, separate)
//                                     one fused pointwise kernel: gates, cell update, and the writes of
//                                     GX (activations) / cT / S / hT, y[t], and hn/cn on the last step.
// Per direction, backward:  per step (last to first): one fused pointwise kernel -> dG_t (pre-activation gate
//                           gradients, feature-major columns of dGX / dGH) and dc_{t-1}; one GEMM
//                           dh_{t-1}^T = W_hh^T dG_t^T (beta 1 for the GRU's direct term z dh).
//                           After the loop: dx, dW_ih, dW_hh as whole-sequence GEMMs, db as row sums.
// Step views are general-strided (element (j, n, gate) at p + j*sj + n*sn + gate*sg), so h0/c0/dhn/dcn [N, H] and the
// y / dy columns [T, N, D*H] are read and written in place: no transposes inside the loop.
//
// The GEMM: rnn_gemm() below, a thin wrapper of the project's CUDA GEMM (gemm_cuda.h).
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda/cuda_kernel.cuh"
#include "ops/gemm/gemm.h"
#include "ops/gemm/gemm_cuda.h"
#include "ops/recurrent/recurrent.h"

namespace dlcore::rnn_cuda {

constexpr int kThreads = 256;

// ------------------------------------------------------------------------------------------------ strided views

// Element (j, n, gate) of a step buffer: hidden unit j, batch element n.
template <class T>
struct SView {
  T* p;
  int64_t sj, sn, sg;
  DLCORE_HOSTDEV T& at(int64_t j, int64_t n, int64_t g = 0) const { return p[j * sj + n * sn + g * sg]; }
};
template <class T>
struct CSView {
  const T* p;  // may be null: reads give 0
  int64_t sj, sn, sg;
  DLCORE_HOSTDEV T at(int64_t j, int64_t n, int64_t g = 0) const { return p[j * sj + n * sn + g * sg]; }
  DLCORE_HOSTDEV T at_or0(int64_t j, int64_t n) const { return p ? p[j * sj + n * sn] : T(0); }
};

// ------------------------------------------------------------------------------------------------ GEMM

// The recurrent family's GEMM: C[m, n] = alpha * sum_k A[m, k] B[k, n] + beta * C[m, n] + bias[m] (C not read
// when beta == 0; bias per row or null), through the project's CUDA GEMM (gemm_cuda.h: its kernel choice, TF32
// when allowed, general strides).
template <class T>
void rnn_gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rs_a, int64_t cs_a, const T* B,
              int64_t rs_b, int64_t cs_b, T beta, T* C, int64_t rs_c, int64_t cs_c, const T* bias, cuda::Stream s) {
  if (M <= 0 || N <= 0) return;
  GemmEpilogue<T> ep;
  if (bias) {
    ep.bias = bias;
    ep.bias_kind = BiasKind::PerRow;
  }
  gemm_cuda<T>(M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c, ep, 1, 0, 0, 0, s);
}

// ------------------------------------------------------------------------------------------------ small kernels

// out[i] = a[i] + b[i] (the LSTM/RNN input-projection bias b_ih + b_hh).
template <class T>
__global__ void rnn_add_kernel(int64_t n, const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) out[i] = a[i] + b[i];
}

// dst[r * dr + c * dc] = src[r * sr + c * sc] for r < R, c < C (the [H, N] <-> [N, H] state transposes; small).
template <class T>
__global__ void rnn_copy2d_kernel(int64_t R, int64_t C, const T* __restrict__ src, int64_t sr, int64_t sc,
                                  T* __restrict__ dst, int64_t dr, int64_t dc) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < R * C; e += step) {
    const int64_t r = e / C, c = e - r * C;
    dst[r * dr + c * dc] = src[r * sr + c * sc];
  }
}

// out0[r] (and out1[r] when not null) = sum_c A[r * ld + c]: one block per row (grid-stride over rows), a strided
// per-thread sum, then a shared-memory tree (blockDim.x a power of two).
template <class T>
__global__ void rnn_row_sums_kernel(int64_t R, int64_t C, const T* __restrict__ A, int64_t ld, T* __restrict__ out0,
                                    T* __restrict__ out1) {
  __shared__ T part[kThreads];
  const int tid = threadIdx.x;
  for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
    T s = T(0);
    for (int64_t c = tid; c < C; c += blockDim.x) s += A[r * ld + c];
    part[tid] = s;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
      if (tid < w) part[tid] += part[tid + w];
      __syncthreads();
    }
    if (tid == 0) {
      out0[r] = part[0];
      if (out1) out1[r] = part[0];
    }
    __syncthreads();  // part[] is reused by the next row
  }
}

// ------------------------------------------------------------------------------------------------ fused step kernels
// One thread per (j, n) of the step's H x N elements, n fastest (the feature-major buffers GX, cT, S, hT, dG are
// contiguous in n). Cell algebra: recurrent.h's shared DLCORE_HOSTDEV formulas; activations std::exp / std::tanh.

// LSTM forward. G: in the pre-activations i, f, g, o (GX column t, after the recurrent GEMM), out the activations.
// cp = c_{t-1}; writes c (cT[t]), h (hT[t]), y[t]; hn/cn when not null (last step).
template <class T>
__global__ void lstm_fwd_kernel(int64_t H, int64_t N, SView<T> G, CSView<T> cp, SView<T> c, SView<T> h, SView<T> y,
                                SView<T> hn, SView<T> cn) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < H * N; e += step) {
    const int64_t j = e / N, n = e - j * N;
    const T i = rnn_sigmoid<T>(G.at(j, n, 0)), f = rnn_sigmoid<T>(G.at(j, n, 1)), g = std::tanh(G.at(j, n, 2)),
            o = rnn_sigmoid<T>(G.at(j, n, 3));
    const T cv = lstm_cell_state<T, T>(i, f, g, cp.at(j, n));
    const T hv = o * std::tanh(cv);
    G.at(j, n, 0) = i;
    G.at(j, n, 1) = f;
    G.at(j, n, 2) = g;
    G.at(j, n, 3) = o;
    c.at(j, n) = cv;
    h.at(j, n) = hv;
    y.at(j, n) = hv;
    if (hn.p) {
      hn.at(j, n) = hv;
      cn.at(j, n) = cv;
    }
  }
}

// GRU forward. gx: GX column t (input part with b_ih); gh: W_hh h + b_hh [3H, N]; hp = h_{t-1}. Writes h (hT[t]),
// S[t] = (r, z, n, ghn), y[t], hn when not null.
template <class T>
__global__ void gru_fwd_kernel(int64_t H, int64_t N, CSView<T> gx, CSView<T> gh, CSView<T> hp, SView<T> h, SView<T> S,
                               SView<T> y, SView<T> hn) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < H * N; e += step) {
    const int64_t j = e / N, n = e - j * N;
    const T r = rnn_sigmoid<T>(gx.at(j, n, 0) + gh.at(j, n, 0));
    const T z = rnn_sigmoid<T>(gx.at(j, n, 1) + gh.at(j, n, 1));
    const T ghn = gh.at(j, n, 2);
    const T nv = std::tanh(gru_n_pre<T, T>(gx.at(j, n, 2), r, ghn));
    const T hv = gru_cell_state<T, T>(z, nv, hp.at(j, n));
    h.at(j, n) = hv;
    S.at(j, n, 0) = r;
    S.at(j, n, 1) = z;
    S.at(j, n, 2) = nv;
    S.at(j, n, 3) = ghn;
    y.at(j, n) = hv;
    if (hn.p) hn.at(j, n) = hv;
  }
}

// RNN forward: h = act(G) with G the pre-activation (GX column t after the recurrent GEMM).
template <class T>
__global__ void rnn_fwd_kernel(int64_t H, int64_t N, int relu, CSView<T> G, SView<T> h, SView<T> y, SView<T> hn) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < H * N; e += step) {
    const int64_t j = e / N, n = e - j * N;
    const T x = G.at(j, n);
    const T hv = relu ? rnn_relu<T>(x) : std::tanh(x);
    h.at(j, n) = hv;
    y.at(j, n) = hv;
    if (hn.p) hn.at(j, n) = hv;
  }
}

// LSTM backward. G: the saved activations (GX column t); cp = c_{t-1}; c = c_t; dhr: the recurrent gradient of h_t
// (null: 0); dy: the output gradient at t (null: 0); dc_in: the gradient of c_t (null: 0); writes dc_out = dc_{t-1}
// (may alias dc_in: each thread reads its element before writing it) and dG (dGX column t).
template <class T>
__global__ void lstm_bwd_kernel(int64_t H, int64_t N, CSView<T> G, CSView<T> cp, CSView<T> c, CSView<T> dhr,
                                CSView<T> dy, CSView<T> dc_in, SView<T> dc_out, SView<T> dG) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < H * N; e += step) {
    const int64_t j = e / N, n = e - j * N;
    const T dh = dhr.at_or0(j, n) + dy.at_or0(j, n);
    T di, df, dg, dout, dcp;
    lstm_cell_backward<T, T>(G.at(j, n, 0), G.at(j, n, 1), G.at(j, n, 2), G.at(j, n, 3), std::tanh(c.at(j, n)),
                             cp.at(j, n), dh, dc_in.at_or0(j, n), di, df, dg, dout, dcp);
    dG.at(j, n, 0) = di;
    dG.at(j, n, 1) = df;
    dG.at(j, n, 2) = dg;
    dG.at(j, n, 3) = dout;
    dc_out.at(j, n) = dcp;
  }
}

// GRU backward. S[t] = (r, z, n, ghn); hp = h_{t-1}; dhr/dy as for the LSTM; writes dgx, dgh (columns t of dGX,
// dGH) and dh_out = z dh, the direct term of dh_{t-1} (the GEMM adds W_hh^T dgh with beta 1; may alias dhr).
template <class T>
__global__ void gru_bwd_kernel(int64_t H, int64_t N, CSView<T> S, CSView<T> hp, CSView<T> dhr, CSView<T> dy,
                               SView<T> dh_out, SView<T> dgx, SView<T> dgh) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < H * N; e += step) {
    const int64_t j = e / N, n = e - j * N;
    const T dh = dhr.at_or0(j, n) + dy.at_or0(j, n);
    T dr, dz, dnx, dnh, dhp;
    gru_cell_backward<T, T>(S.at(j, n, 0), S.at(j, n, 1), S.at(j, n, 2), S.at(j, n, 3), hp.at(j, n), dh, dr, dz,
                            dnx, dnh, dhp);
    dgx.at(j, n, 0) = dr;
    dgx.at(j, n, 1) = dz;
    dgx.at(j, n, 2) = dnx;
    dgh.at(j, n, 0) = dr;
    dgh.at(j, n, 1) = dz;
    dgh.at(j, n, 2) = dnh;
    dh_out.at(j, n) = dhp;
  }
}

// RNN backward: dG = act'(h) (dhr + dy), with h = h_t (hT[t]).
template <class T>
__global__ void rnn_bwd_kernel(int64_t H, int64_t N, int relu, CSView<T> h, CSView<T> dhr, CSView<T> dy,
                               SView<T> dG) {
  const int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < H * N; e += step) {
    const int64_t j = e / N, n = e - j * N;
    const T dh = dhr.at_or0(j, n) + dy.at_or0(j, n);
    const T hv = h.at(j, n);
    dG.at(j, n) = relu ? rnn_relu_grad<T>(hv, dh) : rnn_tanh_grad<T, T>(hv, dh);
  }
}

// ------------------------------------------------------------------------------------------------ drivers

using rnn::Dims;
using rnn::make_dims;
using rnn::step_at;

inline unsigned step_blocks(int64_t n) { return cuda::blocks_for(n, kThreads, 4096); }

template <class T>
void copy2d(int64_t R, int64_t C, const T* src, int64_t sr, int64_t sc, T* dst, int64_t dr, int64_t dc,
            cuda::Stream s) {
  auto* k = &rnn_copy2d_kernel<T>;
  DLCORE_LAUNCH(k, step_blocks(R * C), kThreads, 0, s)(R, C, src, sr, sc, dst, dr, dc);
}

template <class T>
void forward_dir(RnnMode mode, const Dims& d, const T* x, const RnnWeights& w, const T* h0, const T* c0, T* y, T* hn,
                 T* cn, std::vector<Tensor>& ws, bool rev, Device dev) {
  cuda::Stream st = cuda::current_stream();
  const int64_t Tn = d.T, N = d.N, H = d.H, G = d.G, TN = d.T * d.N, HN = d.H * d.N, ldy = d.ldy;
  const bool bias = w.b_ih.defined();
  const DType dt = w.w_ih.dtype();
  const T* Whh = w.w_hh.data<T>();
  const int64_t rs_w = w.w_hh.stride(0), cs_w = w.w_hh.stride(1);

  // Input projection of every step: GX [G, T*N] = W_ih X^T + bias (per row; b_ih + b_hh except for the GRU).
  Tensor GX_t = Tensor::empty({G, TN}, dt, dev);
  T* GX = GX_t.data<T>();
  Tensor bsum_t;
  const T* b_in = nullptr;
  if (bias) {
    if (mode == RnnMode::GRU) {
      b_in = w.b_ih.data<T>();
    } else {
      bsum_t = Tensor::empty({G}, dt, dev);
      auto* k = &rnn_add_kernel<T>;
      DLCORE_LAUNCH(k, step_blocks(G), kThreads, 0, st)(G, w.b_ih.data<T>(), w.b_hh.data<T>(), bsum_t.data<T>());
      b_in = bsum_t.data<T>();
    }
  }
  rnn_gemm<T>(G, TN, d.I, T(1), w.w_ih.data<T>(), w.w_ih.stride(0), w.w_ih.stride(1), x, d.cs_x, d.rs_x, T(0), GX,
              TN, 1, b_in, st);

  Tensor HT_t = Tensor::empty({Tn, H, N}, dt, dev), CT_t, S_t, GH_t;
  T* HT = HT_t.data<T>();
  T *CT = nullptr, *S = nullptr, *GH = nullptr;
  if (mode == RnnMode::LSTM) {
    CT_t = Tensor::empty({Tn, H, N}, dt, dev);
    CT = CT_t.data<T>();
  } else if (mode == RnnMode::GRU) {
    S_t = Tensor::empty({Tn, 4 * H, N}, dt, dev);
    S = S_t.data<T>();
    GH_t = Tensor::empty({G, N}, dt, dev);
    GH = GH_t.data<T>();
  }
  const T* b_hh = (bias && mode == RnnMode::GRU) ? w.b_hh.data<T>() : nullptr;
  const int relu = mode == RnnMode::RNN_RELU;
  const unsigned blocks = step_blocks(HN);
  for (int64_t s = 0; s < Tn; ++s) {
    const int64_t t = step_at(s, Tn, rev), tp = s > 0 ? step_at(s - 1, Tn, rev) : -1;
    const bool last = s == Tn - 1;
    // h_{t-1} as a [H, N] operand: hT[tp], or h0 [N, H] read transposed in place.
    const T* hp = s == 0 ? h0 : HT + tp * HN;
    const int64_t hp_sj = s == 0 ? 1 : N, hp_sn = s == 0 ? H : 1;
    T* Gt = GX + t * N;  // this step's gates: columns of GX (row stride TN, gate stride H * TN)
    SView<T> hv{HT + t * HN, N, 1, 0};
    SView<T> yv{y + t * N * ldy, 1, ldy, 0};
    SView<T> hnv{last ? hn : nullptr, 1, H, 0};
    if (mode == RnnMode::GRU) {
      rnn_gemm<T>(G, N, H, T(1), Whh, rs_w, cs_w, hp, hp_sj, hp_sn, T(0), GH, N, 1, b_hh, st);
      auto* k = &gru_fwd_kernel<T>;
      DLCORE_LAUNCH(k, blocks, kThreads, 0, st)(H, N, CSView<T>{Gt, TN, 1, H * TN}, CSView<T>{GH, N, 1, HN},
                                                CSView<T>{hp, hp_sj, hp_sn, 0}, hv,
                                                SView<T>{S + t * 4 * HN, N, 1, HN}, yv, hnv);
    } else {
      rnn_gemm<T>(G, N, H, T(1), Whh, rs_w, cs_w, hp, hp_sj, hp_sn, T(1), Gt, TN, 1, nullptr, st);
      if (mode == RnnMode::LSTM) {
        const T* cp = s == 0 ? c0 : CT + tp * HN;
        auto* k = &lstm_fwd_kernel<T>;
        DLCORE_LAUNCH(k, blocks, kThreads, 0, st)(H, N, SView<T>{Gt, TN, 1, H * TN}, CSView<T>{cp, hp_sj, hp_sn, 0},
                                                  SView<T>{CT + t * HN, N, 1, 0}, hv, yv, hnv,
                                                  SView<T>{last ? cn : nullptr, 1, H, 0});
      } else {
        auto* k = &rnn_fwd_kernel<T>;
        DLCORE_LAUNCH(k, blocks, kThreads, 0, st)(H, N, relu, CSView<T>{Gt, TN, 1, 0}, hv, yv, hnv);
      }
    }
  }
  if (mode == RnnMode::LSTM) ws = {GX_t, CT_t};
  else if (mode == RnnMode::GRU) ws = {S_t, HT_t};
  else ws = {HT_t};
}

template <class T>
void backward_dir(RnnMode mode, const Dims& d, const T* x, const RnnWeights& w, const T* h0, const T* c0, const T* y,
                  const std::vector<Tensor>& ws, const T* dy, const T* dhn, const T* dcn, T* dx, bool dx_accumulate,
                  T* dh0, T* dc0, const RnnWeights& gw, bool rev, Device dev) {
  cuda::Stream st = cuda::current_stream();
  const int64_t Tn = d.T, N = d.N, H = d.H, G = d.G, TN = d.T * d.N, HN = d.H * d.N, ldy = d.ldy;
  const DType dt = w.w_ih.dtype();
  const T* Whh = w.w_hh.data<T>();
  const int64_t rs_w = w.w_hh.stride(0), cs_w = w.w_hh.stride(1);

  // Feature-major state gradients [H, N]: dh_{t-1} (and dc_{t-1}) carried from step to step.
  Tensor dhT_t = Tensor::empty({H, N}, dt, dev), dcT_t;
  T* dhT = dhT_t.data<T>();
  T* dcT = nullptr;
  if (mode == RnnMode::LSTM) {
    dcT_t = Tensor::empty({H, N}, dt, dev);
    dcT = dcT_t.data<T>();
  }
  Tensor dGX_t = Tensor::empty({G, TN}, dt, dev), dGH_t;
  T* dGX = dGX_t.data<T>();
  T* dGH = dGX;  // LSTM/RNN: the input and hidden parts have the same gradient
  if (mode == RnnMode::GRU) {
    dGH_t = Tensor::empty({G, TN}, dt, dev);
    dGH = dGH_t.data<T>();
  }
  const int relu = mode == RnnMode::RNN_RELU;
  const unsigned blocks = step_blocks(HN);
  for (int64_t s = Tn - 1; s >= 0; --s) {
    const int64_t t = step_at(s, Tn, rev), tp = s > 0 ? step_at(s - 1, Tn, rev) : -1;
    const bool first = s == Tn - 1;  // the first step of the backward walk: dh / dc come from dhn / dcn [N, H]
    CSView<T> dhr = first ? CSView<T>{dhn, 1, H, 0} : CSView<T>{dhT, N, 1, 0};
    CSView<T> dyv{dy ? dy + t * N * ldy : nullptr, 1, ldy, 0};
    const int64_t sp_j = s == 0 ? 1 : N, sp_n = s == 0 ? H : 1;  // the [N, H] initial state or a [H, N] step
    T* dgx = dGX + t * N;
    T* dgh = dGH + t * N;
    if (mode == RnnMode::LSTM) {
      const T* GXs = ws[0].data<T>() + t * N;
      const T* CT = ws[1].data<T>();
      const T* cp = s == 0 ? c0 : CT + tp * HN;
      CSView<T> dcin = first ? CSView<T>{dcn, 1, H, 0} : CSView<T>{dcT, N, 1, 0};
      auto* k = &lstm_bwd_kernel<T>;
      DLCORE_LAUNCH(k, blocks, kThreads, 0, st)(H, N, CSView<T>{GXs, TN, 1, H * TN}, CSView<T>{cp, sp_j, sp_n, 0},
                                                CSView<T>{CT + t * HN, N, 1, 0}, dhr, dyv, dcin,
                                                SView<T>{dcT, N, 1, 0}, SView<T>{dgx, TN, 1, H * TN});
    } else if (mode == RnnMode::GRU) {
      const T* S = ws[0].data<T>() + t * 4 * HN;
      const T* HT = ws[1].data<T>();
      const T* hp = s == 0 ? h0 : HT + tp * HN;
      auto* k = &gru_bwd_kernel<T>;
      DLCORE_LAUNCH(k, blocks, kThreads, 0, st)(H, N, CSView<T>{S, N, 1, HN}, CSView<T>{hp, sp_j, sp_n, 0}, dhr, dyv,
                                                SView<T>{dhT, N, 1, 0}, SView<T>{dgx, TN, 1, H * TN},
                                                SView<T>{dgh, TN, 1, H * TN});
    } else {
      const T* hT = ws[0].data<T>() + t * HN;
      auto* k = &rnn_bwd_kernel<T>;
      DLCORE_LAUNCH(k, blocks, kThreads, 0, st)(H, N, relu, CSView<T>{hT, N, 1, 0}, dhr, dyv,
                                                SView<T>{dgx, TN, 1, 0});
    }
    // dh_{t-1}^T [H, N] = W_hh^T [H, G] dG_h^T [G, N] (+ the GRU's direct term already in dhT).
    rnn_gemm<T>(H, N, G, T(1), Whh, cs_w, rs_w, dgh, TN, 1, mode == RnnMode::GRU ? T(1) : T(0), dhT, N, 1, nullptr,
                st);
  }
  copy2d<T>(H, N, dhT, N, 1, dh0, 1, H, st);
  if (mode == RnnMode::LSTM) copy2d<T>(H, N, dcT, N, 1, dc0, 1, H, st);

  // Whole-sequence GEMMs.
  if (dx)
    rnn_gemm<T>(TN, d.I, G, T(1), dGX, 1, TN, w.w_ih.data<T>(), w.w_ih.stride(0), w.w_ih.stride(1),
                dx_accumulate ? T(1) : T(0), dx, d.I, 1, nullptr, st);
  rnn_gemm<T>(G, d.I, TN, T(1), dGX, TN, 1, x, d.rs_x, d.cs_x, T(0), gw.w_ih.data<T>(), d.I, 1, nullptr, st);
  // dW_hh: the steps whose h_prev is a row block of y (all but the first of the walk), then the h0 step.
  T* dwhh = gw.w_hh.data<T>();
  const int64_t first = step_at(0, Tn, rev);
  if (Tn > 1) {
    const T* A = rev ? dGH : dGH + N;    // columns of steps 1..T-1 (fwd) or 0..T-2 (rev)
    const T* B = rev ? y + N * ldy : y;  // their h_prev: y[0..T-2] (fwd) or y[1..T-1] (rev)
    rnn_gemm<T>(G, H, (Tn - 1) * N, T(1), A, TN, 1, B, ldy, 1, T(0), dwhh, H, 1, nullptr, st);
  }
  rnn_gemm<T>(G, H, N, T(1), dGH + first * N, TN, 1, h0, H, 1, Tn > 1 ? T(1) : T(0), dwhh, H, 1, nullptr, st);
  if (gw.b_ih.defined()) {
    auto* k = &rnn_row_sums_kernel<T>;
    const unsigned rb = (unsigned)std::min<int64_t>(G, 4096);
    if (mode == RnnMode::GRU) {
      DLCORE_LAUNCH(k, rb, kThreads, 0, st)(G, TN, dGX, TN, gw.b_ih.data<T>(), (T*)nullptr);
      DLCORE_LAUNCH(k, rb, kThreads, 0, st)(G, TN, dGH, TN, gw.b_hh.data<T>(), (T*)nullptr);
    } else {
      DLCORE_LAUNCH(k, rb, kThreads, 0, st)(G, TN, dGX, TN, gw.b_ih.data<T>(), gw.b_hh.data<T>());
    }
  }
}

// The op entries for one element type (registered in recurrent_cuda.cu; double instantiated in
// recurrent_f64_cuda.cu).
template <class T>
void layer_forward(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                   const std::vector<RnnWeights>& dirs, const Tensor& y, const Tensor& hn, const Tensor& cn,
                   std::vector<std::vector<Tensor>>& ws) {
  Dims d = make_dims(mode, x, dirs);
  ws.assign(dirs.size(), {});
  const int64_t NH = d.N * d.H;
  for (int64_t k = 0; k < d.D; ++k)
    forward_dir<T>(mode, d, x.data<T>(), dirs[k], h0.data<T>() + k * NH, c0.defined() ? c0.data<T>() + k * NH : nullptr,
                   y.data<T>() + k * d.H, hn.data<T>() + k * NH, cn.defined() ? cn.data<T>() + k * NH : nullptr, ws[k],
                   k == 1, x.device());
}

template <class T>
void layer_backward(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                    const std::vector<RnnWeights>& dirs, const Tensor& y, const std::vector<std::vector<Tensor>>& ws,
                    const Tensor& dy, const Tensor& dhn, const Tensor& dcn, const Tensor& dx, const Tensor& dh0,
                    const Tensor& dc0, const std::vector<RnnWeights>& grads) {
  Dims d = make_dims(mode, x, dirs);
  const int64_t NH = d.N * d.H;
  for (int64_t k = 0; k < d.D; ++k)
    backward_dir<T>(mode, d, x.data<T>(), dirs[k], h0.data<T>() + k * NH,
                    c0.defined() ? c0.data<T>() + k * NH : nullptr, y.data<T>() + k * d.H, ws[k], dy.defined() ? dy.data<T>() + k * d.H : nullptr,
                    dhn.defined() ? dhn.data<T>() + k * NH : nullptr, dcn.defined() ? dcn.data<T>() + k * NH : nullptr,
                    dx.defined() ? dx.data<T>() : nullptr, k > 0, dh0.data<T>() + k * NH,
                    dc0.defined() ? dc0.data<T>() + k * NH : nullptr, grads[k], k == 1, x.device());
}

// float64 lives in recurrent_f64_cuda.cu (the double-usage gate).
void layer_forward_f64(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                       const std::vector<RnnWeights>& dirs, const Tensor& y, const Tensor& hn, const Tensor& cn,
                       std::vector<std::vector<Tensor>>& ws);
void layer_backward_f64(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                        const std::vector<RnnWeights>& dirs, const Tensor& y,
                        const std::vector<std::vector<Tensor>>& ws, const Tensor& dy, const Tensor& dhn,
                        const Tensor& dcn, const Tensor& dx, const Tensor& dh0, const Tensor& dc0,
                        const std::vector<RnnWeights>& grads);

}  // namespace dlcore::rnn_cuda
