// CPU recurrent layers: the portable scalar row kernels (the reference, used for float64 and for float32 on the
// scalar ISA), the per-ISA choice of the float32 kernels, and the sequence drivers (forward over time, backward
// through time) built on gemm.h. Formulas and the saved-tensor layout: recurrent.h.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/gemm/gemm.h"
#include "ops/recurrent/recurrent.h"

namespace dlcore {

namespace {

// ------------------------------------------------------------------------------------------------ scalar kernels

template <class T>
void lstm_fwd_ref(int64_t rows, int64_t H, T* G, int64_t ldg, const T* cp, int64_t ldcp, T* c, int64_t ldc, T* h,
                  int64_t ldh) {
  for (int64_t r = 0; r < rows; ++r) {
    T* g = G + r * ldg;
    for (int64_t j = 0; j < H; ++j) {
      T i = rnn_sigmoid<T>(g[j]), f = rnn_sigmoid<T>(g[H + j]), gg = std::tanh(g[2 * H + j]),
        o = rnn_sigmoid<T>(g[3 * H + j]);
      T cn = lstm_cell_state<T>(i, f, gg, cp[r * ldcp + j]);
      g[j] = i;
      g[H + j] = f;
      g[2 * H + j] = gg;
      g[3 * H + j] = o;
      c[r * ldc + j] = cn;
      h[r * ldh + j] = o * std::tanh(cn);
    }
  }
}

template <class T>
void lstm_bwd_ref(int64_t rows, int64_t H, const T* G, int64_t ldg, const T* cp, int64_t ldcp, const T* c,
                  int64_t ldc, const T* dhr, int64_t lddhr, const T* dy, int64_t lddy, T* dc, int64_t lddc, T* dG,
                  int64_t lddg) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = G + r * ldg;
    T* dg = dG + r * lddg;
    for (int64_t j = 0; j < H; ++j) {
      T dh = dhr[r * lddhr + j] + (dy ? dy[r * lddy + j] : T(0));
      T di, df, dgg, dout, dcp;
      lstm_cell_backward<T>(g[j], g[H + j], g[2 * H + j], g[3 * H + j], std::tanh(c[r * ldc + j]),
                            cp[r * ldcp + j], dh, dc[r * lddc + j], di, df, dgg, dout, dcp);
      dg[j] = di;
      dg[H + j] = df;
      dg[2 * H + j] = dgg;
      dg[3 * H + j] = dout;
      dc[r * lddc + j] = dcp;
    }
  }
}

template <class T>
void gru_fwd_ref(int64_t rows, int64_t H, const T* gx, int64_t ldgx, const T* gh, int64_t ldgh, const T* hp,
                 int64_t ldhp, T* h, int64_t ldh, T* S, int64_t lds) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* x = gx + r * ldgx;
    const T* hh = gh + r * ldgh;
    T* s = S + r * lds;
    for (int64_t j = 0; j < H; ++j) {
      T rg = rnn_sigmoid<T>(x[j] + hh[j]);
      T z = rnn_sigmoid<T>(x[H + j] + hh[H + j]);
      T ghn = hh[2 * H + j];
      T n = std::tanh(gru_n_pre<T>(x[2 * H + j], rg, ghn));
      h[r * ldh + j] = gru_cell_state<T>(z, n, hp[r * ldhp + j]);
      s[j] = rg;
      s[H + j] = z;
      s[2 * H + j] = n;
      s[3 * H + j] = ghn;
    }
  }
}

template <class T>
void gru_bwd_ref(int64_t rows, int64_t H, const T* S, int64_t lds, const T* hp, int64_t ldhp, T* dhr, int64_t lddhr,
                 const T* dy, int64_t lddy, T* dgx, int64_t lddgx, T* dgh, int64_t lddgh) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* s = S + r * lds;
    T* ox = dgx + r * lddgx;
    T* oh = dgh + r * lddgh;
    for (int64_t j = 0; j < H; ++j) {
      T dh = dhr[r * lddhr + j] + (dy ? dy[r * lddy + j] : T(0));
      T dr, dz, dnx, dnh, dhp;
      gru_cell_backward<T>(s[j], s[H + j], s[2 * H + j], s[3 * H + j], hp[r * ldhp + j], dh, dr, dz, dnx, dnh, dhp);
      ox[j] = dr;
      ox[H + j] = dz;
      ox[2 * H + j] = dnx;
      oh[j] = dr;
      oh[H + j] = dz;
      oh[2 * H + j] = dnh;
      dhr[r * lddhr + j] = dhp;
    }
  }
}

template <class T>
void rnn_fwd_ref(int64_t rows, int64_t H, int relu, const T* G, int64_t ldg, T* h, int64_t ldh) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < H; ++j) {
      T x = G[r * ldg + j];
      h[r * ldh + j] = relu ? rnn_relu<T>(x) : std::tanh(x);
    }
}

template <class T>
void rnn_bwd_ref(int64_t rows, int64_t H, int relu, const T* h, int64_t ldh, const T* dhr, int64_t lddhr, const T* dy,
                 int64_t lddy, T* dG, int64_t lddg) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < H; ++j) {
      T dh = dhr[r * lddhr + j] + (dy ? dy[r * lddy + j] : T(0));
      T hv = h[r * ldh + j];
      dG[r * lddg + j] = relu ? rnn_relu_grad<T>(hv, dh) : rnn_tanh_grad<T>(hv, dh);
    }
}

template <class T>
RecurrentKernels<T> scalar_kernels() {
  RecurrentKernels<T> k;
  k.lstm_fwd = &lstm_fwd_ref<T>;
  k.lstm_bwd = &lstm_bwd_ref<T>;
  k.gru_fwd = &gru_fwd_ref<T>;
  k.gru_bwd = &gru_bwd_ref<T>;
  k.rnn_fwd = &rnn_fwd_ref<T>;
  k.rnn_bwd = &rnn_bwd_ref<T>;
  return k;
}

struct FloatTables {
  RecurrentKernels<float> isa[kNumIsas];
  FloatTables() {
    isa[(int)Isa::Scalar] = scalar_kernels<float>();
    avx2::fill_recurrent_kernels(isa[(int)Isa::AVX2]);
    avx512::fill_recurrent_kernels(isa[(int)Isa::AVX512]);
  }
};

template <class T>
const RecurrentKernels<T>& active_kernels() {
  if constexpr (sizeof(T) == 4) {
    static const FloatTables t;
    return t.isa[(int)cpu_isa()];
  } else {
    static const RecurrentKernels<double> k = scalar_kernels<double>();
    return k;
  }
}

// Runs fn(r0, r1) over the N rows of a step, split across threads when the step is big enough to pay for it.
template <class F>
void for_rows(int64_t N, int64_t row_elems, const F& fn) {
  int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, row_elems));
  parallel_for(0, N, grain, fn);
}

// Column sums of an [M, C] row-major matrix into out[C] (out = sum, or out += sum when accumulate).
template <class T>
void col_sums(const T* A, int64_t M, int64_t C, T* out) {
  parallel_for(0, C, 64, [&](int64_t c0, int64_t c1) {
    std::vector<T> acc(c1 - c0, T(0));
    for (int64_t m = 0; m < M; ++m) {
      const T* a = A + m * C + c0;
      for (int64_t j = 0; j < c1 - c0; ++j) acc[j] += a[j];
    }
    for (int64_t j = 0; j < c1 - c0; ++j) out[c0 + j] = acc[j];
  });
}

// ------------------------------------------------------------------------------------------------ the drivers

// A row-major copy of w^T ([cols, rows]), blocked for cache.
template <class T>
Tensor transposed_copy(const Tensor& w) {
  const int64_t R = w.size(0), C = w.size(1), s0 = w.stride(0), s1 = w.stride(1);
  Tensor out = Tensor::empty({C, R}, w.dtype(), Device());
  const T* src = w.data<T>();
  T* dst = out.data<T>();
  constexpr int64_t B = 32;
  for (int64_t r0 = 0; r0 < R; r0 += B)
    for (int64_t c0 = 0; c0 < C; c0 += B)
      for (int64_t c = c0; c < std::min(C, c0 + B); ++c)
        for (int64_t r = r0; r < std::min(R, r0 + B); ++r) dst[c * R + r] = src[r * s0 + c * s1];
  return out;
}

struct Dims {
  int64_t T, N, I, H, D, G;      // G = gates * H
  int64_t rs_x, cs_x;            // x as a [T*N, I] matrix
  int64_t ldy;                   // D*H
};

template <class T>
const T* opt_ptr(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

// The step index for position s of a direction's walk, and the step that precedes it.
inline int64_t step_at(int64_t s, int64_t T, bool rev) { return rev ? T - 1 - s : s; }

template <class T>
void forward_dir(RnnMode mode, const Dims& d, const T* x, const RnnWeights& w, const T* h0, const T* c0, T* y,
                 T* hn, T* cn, std::vector<Tensor>& ws, bool rev) {
  const RecurrentKernels<T>& K = active_kernels<T>();
  const int64_t Tn = d.T, N = d.N, H = d.H, G = d.G, ldy = d.ldy;
  const T* wih = w.w_ih.data<T>();
  const int64_t wih0 = w.w_ih.stride(0), wih1 = w.w_ih.stride(1);
  const bool bias = w.b_ih.defined();
  Device cpu;
  DType dt = w.w_ih.dtype();
  // W_hh^T as a row-major [H, G] copy, made once per call: the T recurrent GEMMs then read their B operand with
  // unit column stride (a plain row copy when the GEMM packs it) instead of transposing W_hh at every step.
  Tensor whhT_t = transposed_copy<T>(w.w_hh);
  const T* whh = whhT_t.data<T>();
  const int64_t whh0 = 1, whh1 = G;  // strides of W_hh seen through the copy: W_hh[n, k] = whh[n * 1 + k * G]
  auto hprev_of = [&](int64_t s, int64_t& ld) -> const T* {
    if (s == 0) {
      ld = H;
      return h0;
    }
    ld = ldy;
    return y + step_at(s - 1, Tn, rev) * N * ldy;
  };

  if (mode == RnnMode::GRU) {
    Tensor gx_t = Tensor::empty({Tn, N, G}, dt, cpu), gh_t = Tensor::empty({N, G}, dt, cpu);
    Tensor S_t = Tensor::empty({Tn, N, 4 * H}, dt, cpu);
    T *gx = gx_t.data<T>(), *gh = gh_t.data<T>(), *S = S_t.data<T>();
    GemmEpilogue<T> ep_x, ep_h;
    if (bias) {
      ep_x.bias = w.b_ih.data<T>();
      ep_x.bias_kind = BiasKind::PerCol;
      ep_h.bias = w.b_hh.data<T>();
      ep_h.bias_kind = BiasKind::PerCol;
    }
    gemm<T>(Tn * N, G, d.I, T(1), x, d.rs_x, d.cs_x, wih, wih1, wih0, T(0), gx, G, 1, ep_x);
    for (int64_t s = 0; s < Tn; ++s) {
      int64_t t = step_at(s, Tn, rev), ldhp;
      const T* hp = hprev_of(s, ldhp);
      gemm<T>(N, G, H, T(1), hp, ldhp, 1, whh, whh1, whh0, T(0), gh, G, 1, ep_h);
      for_rows(N, 4 * H, [&](int64_t r0, int64_t r1) {
        K.gru_fwd(r1 - r0, H, gx + (t * N + r0) * G, G, gh + r0 * G, G, hp + r0 * ldhp, ldhp, y + (t * N + r0) * ldy,
                  ldy, S + (t * N + r0) * 4 * H, 4 * H);
      });
    }
    ws.push_back(S_t);
  } else {
    // LSTM and RNN: gates = x W_ih^T + (b_ih + b_hh), then per step += h W_hh^T and the pointwise pass.
    Tensor G_t = Tensor::empty({Tn, N, G}, dt, cpu);
    T* Gp = G_t.data<T>();
    std::vector<T> bsum;
    GemmEpilogue<T> ep;
    if (bias) {
      bsum.resize(G);
      const T *bi = w.b_ih.data<T>(), *bh = w.b_hh.data<T>();
      for (int64_t j = 0; j < G; ++j) bsum[j] = bi[j] + bh[j];
      ep.bias = bsum.data();
      ep.bias_kind = BiasKind::PerCol;
    }
    gemm<T>(Tn * N, G, d.I, T(1), x, d.rs_x, d.cs_x, wih, wih1, wih0, T(0), Gp, G, 1, ep);
    Tensor C_t;
    T* C = nullptr;
    if (mode == RnnMode::LSTM) {
      C_t = Tensor::empty({Tn, N, H}, dt, cpu);
      C = C_t.data<T>();
    }
    const int relu = mode == RnnMode::RNN_RELU;
    for (int64_t s = 0; s < Tn; ++s) {
      int64_t t = step_at(s, Tn, rev), ldhp;
      const T* hp = hprev_of(s, ldhp);
      T* g = Gp + t * N * G;
      gemm<T>(N, G, H, T(1), hp, ldhp, 1, whh, whh1, whh0, T(1), g, G, 1);
      if (mode == RnnMode::LSTM) {
        const T* cp = s == 0 ? c0 : C + step_at(s - 1, Tn, rev) * N * H;
        for_rows(N, G, [&](int64_t r0, int64_t r1) {
          K.lstm_fwd(r1 - r0, H, g + r0 * G, G, cp + r0 * H, H, C + (t * N + r0) * H, H, y + (t * N + r0) * ldy, ldy);
        });
      } else {
        for_rows(N, H, [&](int64_t r0, int64_t r1) {
          K.rnn_fwd(r1 - r0, H, relu, g + r0 * G, G, y + (t * N + r0) * ldy, ldy);
        });
      }
    }
    if (mode == RnnMode::LSTM) {
      ws.push_back(G_t);
      ws.push_back(C_t);
    }
  }
  // Final states.
  int64_t tl = step_at(Tn - 1, Tn, rev);
  for (int64_t n = 0; n < N; ++n) {
    std::memcpy(hn + n * H, y + (tl * N + n) * ldy, H * sizeof(T));
    if (mode == RnnMode::LSTM) std::memcpy(cn + n * H, ws[1].data<T>() + (tl * N + n) * H, H * sizeof(T));
  }
}

template <class T>
void backward_dir(RnnMode mode, const Dims& d, const T* x, const RnnWeights& w, const T* h0, const T* c0, const T* y,
                  const std::vector<Tensor>& ws, const T* dy, const T* dhn, const T* dcn, T* dx, bool dx_accumulate,
                  T* dh0, T* dc0, const RnnWeights& gw, bool rev) {
  const RecurrentKernels<T>& K = active_kernels<T>();
  const int64_t Tn = d.T, N = d.N, H = d.H, G = d.G, ldy = d.ldy;
  const T* wih = w.w_ih.data<T>();
  const T* whh = w.w_hh.data<T>();
  const int64_t wih0 = w.w_ih.stride(0), wih1 = w.w_ih.stride(1), whh0 = w.w_hh.stride(0), whh1 = w.w_hh.stride(1);
  Device cpu;
  DType dt = w.w_ih.dtype();
  auto hprev_of = [&](int64_t s, int64_t& ld) -> const T* {
    if (s == 0) {
      ld = H;
      return h0;
    }
    ld = ldy;
    return y + step_at(s - 1, Tn, rev) * N * ldy;
  };

  // dhr: the gradient reaching h_t through the recurrence (starts as dhn).
  std::vector<T> dhr(N * H, T(0)), dc;
  if (dhn) std::memcpy(dhr.data(), dhn, N * H * sizeof(T));
  Tensor dGx_t = Tensor::empty({Tn, N, G}, dt, cpu), dGh_t;
  T* dGx = dGx_t.data<T>();
  T* dGh = dGx;  // LSTM/RNN: the input and hidden parts have the same gradient
  if (mode == RnnMode::GRU) {
    dGh_t = Tensor::empty({Tn, N, G}, dt, cpu);
    dGh = dGh_t.data<T>();
  }
  if (mode == RnnMode::LSTM) {
    dc.assign(N * H, T(0));
    if (dcn) std::memcpy(dc.data(), dcn, N * H * sizeof(T));
  }
  const int relu = mode == RnnMode::RNN_RELU;
  for (int64_t s = Tn - 1; s >= 0; --s) {
    int64_t t = step_at(s, Tn, rev);
    const T* dyt = dy ? dy + t * N * ldy : nullptr;
    T* dgx = dGx + t * N * G;
    T* dgh = dGh + t * N * G;
    if (mode == RnnMode::LSTM) {
      const T* Gs = ws[0].data<T>() + t * N * G;
      const T* C = ws[1].data<T>();
      const T* cp = s == 0 ? c0 : C + step_at(s - 1, Tn, rev) * N * H;
      const T* ct = C + t * N * H;
      for_rows(N, G, [&](int64_t r0, int64_t r1) {
        K.lstm_bwd(r1 - r0, H, Gs + r0 * G, G, cp + r0 * H, H, ct + r0 * H, H, dhr.data() + r0 * H, H,
                   dyt ? dyt + r0 * ldy : nullptr, ldy, dc.data() + r0 * H, H, dgx + r0 * G, G);
      });
    } else if (mode == RnnMode::GRU) {
      const T* S = ws[0].data<T>() + t * N * 4 * H;
      int64_t ldhp;
      const T* hp = hprev_of(s, ldhp);
      for_rows(N, 4 * H, [&](int64_t r0, int64_t r1) {
        K.gru_bwd(r1 - r0, H, S + r0 * 4 * H, 4 * H, hp + r0 * ldhp, ldhp, dhr.data() + r0 * H, H,
                  dyt ? dyt + r0 * ldy : nullptr, ldy, dgx + r0 * G, G, dgh + r0 * G, G);
      });
    } else {
      const T* ht = y + t * N * ldy;
      for_rows(N, H, [&](int64_t r0, int64_t r1) {
        K.rnn_bwd(r1 - r0, H, relu, ht + r0 * ldy, ldy, dhr.data() + r0 * H, H, dyt ? dyt + r0 * ldy : nullptr, ldy,
                  dgx + r0 * G, G);
      });
    }
    // dh_{t-1} = dG_h W_hh (+ the GRU's direct term already in dhr).
    gemm<T>(N, H, G, T(1), dgh, G, 1, whh, whh0, whh1, mode == RnnMode::GRU ? T(1) : T(0), dhr.data(), H, 1);
  }
  std::memcpy(dh0, dhr.data(), N * H * sizeof(T));
  if (mode == RnnMode::LSTM) std::memcpy(dc0, dc.data(), N * H * sizeof(T));

  // Whole-sequence GEMMs.
  if (dx)
    gemm<T>(Tn * N, d.I, G, T(1), dGx, G, 1, wih, wih0, wih1, dx_accumulate ? T(1) : T(0), dx, d.I, 1);
  gemm<T>(G, d.I, Tn * N, T(1), dGx, 1, G, x, d.rs_x, d.cs_x, T(0), gw.w_ih.data<T>(), d.I, 1);
  // dW_hh: the steps whose h_prev is an output row (all but the first of the walk), then the h0 step.
  T* dwhh = gw.w_hh.data<T>();
  int64_t first = step_at(0, Tn, rev);
  if (Tn > 1) {
    const T* A = rev ? dGh : dGh + N * G;           // dG of steps 1..T-1 (fwd) or 0..T-2 (rev)
    const T* B = rev ? y + N * ldy : y;             // their h_prev: y[0..T-2] (fwd) or y[1..T-1] (rev)
    gemm<T>(G, H, (Tn - 1) * N, T(1), A, 1, G, B, ldy, 1, T(0), dwhh, H, 1);
  }
  gemm<T>(G, H, N, T(1), dGh + first * N * G, 1, G, h0, H, 1, Tn > 1 ? T(1) : T(0), dwhh, H, 1);
  if (gw.b_ih.defined()) {
    col_sums<T>(dGx, Tn * N, G, gw.b_ih.data<T>());
    if (mode == RnnMode::GRU) col_sums<T>(dGh, Tn * N, G, gw.b_hh.data<T>());
    else std::memcpy(gw.b_hh.data<T>(), gw.b_ih.data<T>(), G * sizeof(T));
  }
}

Dims make_dims(RnnMode mode, const Tensor& x, const std::vector<RnnWeights>& dirs) {
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

void rnn_layer_forward_cpu(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                           const std::vector<RnnWeights>& dirs, const Tensor& y, const Tensor& hn, const Tensor& cn,
                           std::vector<std::vector<Tensor>>& ws, bool training) {
  (void)training;
  Dims d = make_dims(mode, x, dirs);
  ws.assign(dirs.size(), {});
  dispatch_float(x.dtype(), "rnn_layer_forward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    for (int64_t k = 0; k < d.D; ++k) {
      forward_dir<T>(mode, d, x.data<T>(), dirs[k], h0.data<T>() + k * d.N * d.H,
                     c0.defined() ? c0.data<T>() + k * d.N * d.H : nullptr, y.data<T>() + k * d.H,
                     hn.data<T>() + k * d.N * d.H, cn.defined() ? cn.data<T>() + k * d.N * d.H : nullptr, ws[k],
                     k == 1);
    }
  });
}

void rnn_layer_backward_cpu(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                            const std::vector<RnnWeights>& dirs, const Tensor& y,
                            const std::vector<std::vector<Tensor>>& ws, const Tensor& dy, const Tensor& dhn,
                            const Tensor& dcn, const Tensor& dx, const Tensor& dh0, const Tensor& dc0,
                            const std::vector<RnnWeights>& grads) {
  Dims d = make_dims(mode, x, dirs);
  dispatch_float(x.dtype(), "rnn_layer_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t NH = d.N * d.H;
    for (int64_t k = 0; k < d.D; ++k) {
      const T* dyp = dy.defined() ? dy.data<T>() + k * d.H : nullptr;
      backward_dir<T>(mode, d, x.data<T>(), dirs[k], h0.data<T>() + k * NH,
                      c0.defined() ? c0.data<T>() + k * NH : nullptr, y.data<T>() + k * d.H, ws[k], dyp,
                      dhn.defined() ? dhn.data<T>() + k * NH : nullptr,
                      dcn.defined() ? dcn.data<T>() + k * NH : nullptr, dx.defined() ? dx.data<T>() : nullptr,
                      k > 0, dh0.data<T>() + k * NH, dc0.defined() ? dc0.data<T>() + k * NH : nullptr, grads[k],
                      k == 1);
    }
  });
}

KernelRegistrar reg_fwd(rnn_layer_forward_op, DeviceType::CPU, &rnn_layer_forward_cpu, "cpu");
KernelRegistrar reg_bwd(rnn_layer_backward_op, DeviceType::CPU, &rnn_layer_backward_cpu, "cpu");

}  // namespace

}  // namespace dlcore
