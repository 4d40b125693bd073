// The float32 SIMD row kernels of the recurrent family, compiled once per ISA: the including file defines
// DLCORE_ISA_NS (avx2, avx512) and DLCORE_VLEN (8, 16) and gets fill_recurrent_kernels() in dlcore::DLCORE_ISA_NS.
// The cell algebra is recurrent.h's shared templates instantiated on the vector type; sigmoid/tanh are vecmath.h's.
// A row's tail (H not a multiple of the vector length) goes through the same vector code on a zero-padded copy.
#pragma once
#include <cstring>

#include "core/common.h"
#include "ops/recurrent/recurrent.h"
// after common.h (DLCORE_ALWAYS_INLINE)
#include "ops/elementwise/vecmath.h"

namespace dlcore::DLCORE_ISA_NS {

namespace {

// Loads n <= kVLen floats (the rest zero); stores n.
DLCORE_ALWAYS_INLINE vf load_n(const float* p, int64_t n) {
  if (n == kVLen) return vload(p);
  vf v = vsplat(0.0f);
  std::memcpy(&v, p, n * sizeof(float));
  return v;
}
DLCORE_ALWAYS_INLINE void store_n(float* p, vf v, int64_t n) {
  if (n == kVLen) vstore(p, v);
  else std::memcpy(p, &v, n * sizeof(float));
}

void lstm_fwd(int64_t rows, int64_t H, float* G, int64_t ldg, const float* cp, int64_t ldcp, float* c, int64_t ldc,
              float* h, int64_t ldh) {
  for (int64_t r = 0; r < rows; ++r) {
    float* g = G + r * ldg;
    const float* cpr = cp + r * ldcp;
    float* cr = c + r * ldc;
    float* hr = h + r * ldh;
    for (int64_t j = 0; j < H; j += kVLen) {
      int64_t n = H - j < kVLen ? H - j : kVLen;
      vf i = vsigmoid(load_n(g + j, n));
      vf f = vsigmoid(load_n(g + H + j, n));
      vf gg = vtanh(load_n(g + 2 * H + j, n));
      vf o = vsigmoid(load_n(g + 3 * H + j, n));
      vf cn = lstm_cell_state<float>(i, f, gg, load_n(cpr + j, n));
      store_n(g + j, i, n);
      store_n(g + H + j, f, n);
      store_n(g + 2 * H + j, gg, n);
      store_n(g + 3 * H + j, o, n);
      store_n(cr + j, cn, n);
      store_n(hr + j, o * vtanh(cn), n);
    }
  }
}

void lstm_bwd(int64_t rows, int64_t H, const float* G, int64_t ldg, const float* cp, int64_t ldcp, const float* c,
              int64_t ldc, const float* dhr, int64_t lddhr, const float* dy, int64_t lddy, float* dc, int64_t lddc,
              float* dG, int64_t lddg) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = G + r * ldg;
    const float* cpr = cp + r * ldcp;
    const float* cr = c + r * ldc;
    const float* dhrr = dhr + r * lddhr;
    const float* dyr = dy ? dy + r * lddy : nullptr;
    float* dcr = dc + r * lddc;
    float* dg = dG + r * lddg;
    for (int64_t j = 0; j < H; j += kVLen) {
      int64_t n = H - j < kVLen ? H - j : kVLen;
      vf dh = load_n(dhrr + j, n);
      if (dyr) dh = dh + load_n(dyr + j, n);
      vf di, df, dgg, dout, dcp;
      lstm_cell_backward<float>(load_n(g + j, n), load_n(g + H + j, n), load_n(g + 2 * H + j, n),
                                load_n(g + 3 * H + j, n), vtanh(load_n(cr + j, n)), load_n(cpr + j, n), dh,
                                load_n(dcr + j, n), di, df, dgg, dout, dcp);
      store_n(dg + j, di, n);
      store_n(dg + H + j, df, n);
      store_n(dg + 2 * H + j, dgg, n);
      store_n(dg + 3 * H + j, dout, n);
      store_n(dcr + j, dcp, n);
    }
  }
}

void gru_fwd(int64_t rows, int64_t H, const float* gx, int64_t ldgx, const float* gh, int64_t ldgh, const float* hp,
             int64_t ldhp, float* h, int64_t ldh, float* S, int64_t lds) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = gx + r * ldgx;
    const float* hh = gh + r * ldgh;
    const float* hpr = hp + r * ldhp;
    float* hr = h + r * ldh;
    float* s = S + r * lds;
    for (int64_t j = 0; j < H; j += kVLen) {
      int64_t n = H - j < kVLen ? H - j : kVLen;
      vf rg = vsigmoid(load_n(x + j, n) + load_n(hh + j, n));
      vf z = vsigmoid(load_n(x + H + j, n) + load_n(hh + H + j, n));
      vf ghn = load_n(hh + 2 * H + j, n);
      vf nn = vtanh(gru_n_pre<float>(load_n(x + 2 * H + j, n), rg, ghn));
      store_n(hr + j, gru_cell_state<float>(z, nn, load_n(hpr + j, n)), n);
      store_n(s + j, rg, n);
      store_n(s + H + j, z, n);
      store_n(s + 2 * H + j, nn, n);
      store_n(s + 3 * H + j, ghn, n);
    }
  }
}

void gru_bwd(int64_t rows, int64_t H, const float* S, int64_t lds, const float* hp, int64_t ldhp, float* dhr,
             int64_t lddhr, const float* dy, int64_t lddy, float* dgx, int64_t lddgx, float* dgh, int64_t lddgh) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = S + r * lds;
    const float* hpr = hp + r * ldhp;
    float* dhrr = dhr + r * lddhr;
    const float* dyr = dy ? dy + r * lddy : nullptr;
    float* ox = dgx + r * lddgx;
    float* oh = dgh + r * lddgh;
    for (int64_t j = 0; j < H; j += kVLen) {
      int64_t n = H - j < kVLen ? H - j : kVLen;
      vf dh = load_n(dhrr + j, n);
      if (dyr) dh = dh + load_n(dyr + j, n);
      vf dr, dz, dnx, dnh, dhp;
      gru_cell_backward<float>(load_n(s + j, n), load_n(s + H + j, n), load_n(s + 2 * H + j, n),
                               load_n(s + 3 * H + j, n), load_n(hpr + j, n), dh, dr, dz, dnx, dnh, dhp);
      store_n(ox + j, dr, n);
      store_n(ox + H + j, dz, n);
      store_n(ox + 2 * H + j, dnx, n);
      store_n(oh + j, dr, n);
      store_n(oh + H + j, dz, n);
      store_n(oh + 2 * H + j, dnh, n);
      store_n(dhrr + j, dhp, n);
    }
  }
}

void rnn_fwd(int64_t rows, int64_t H, int relu, const float* G, int64_t ldg, float* h, int64_t ldh) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = G + r * ldg;
    float* hr = h + r * ldh;
    for (int64_t j = 0; j < H; j += kVLen) {
      int64_t n = H - j < kVLen ? H - j : kVLen;
      vf x = load_n(g + j, n);
      vf v = relu ? vselect(x > 0.0f, x, vselect(x != x, x, vsplat(0.0f))) : vtanh(x);
      store_n(hr + j, v, n);
    }
  }
}

void rnn_bwd(int64_t rows, int64_t H, int relu, const float* h, int64_t ldh, const float* dhr, int64_t lddhr,
             const float* dy, int64_t lddy, float* dG, int64_t lddg) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* hr = h + r * ldh;
    const float* dhrr = dhr + r * lddhr;
    const float* dyr = dy ? dy + r * lddy : nullptr;
    float* dg = dG + r * lddg;
    for (int64_t j = 0; j < H; j += kVLen) {
      int64_t n = H - j < kVLen ? H - j : kVLen;
      vf dh = load_n(dhrr + j, n);
      if (dyr) dh = dh + load_n(dyr + j, n);
      vf hv = load_n(hr + j, n);
      vf d = relu ? vselect(hv > 0.0f, dh, vsplat(0.0f)) : rnn_tanh_grad<float>(hv, dh);
      store_n(dg + j, d, n);
    }
  }
}

}  // namespace

void fill_recurrent_kernels(RecurrentKernels<float>& k) {
  k.lstm_fwd = &lstm_fwd;
  k.lstm_bwd = &lstm_bwd;
  k.gru_fwd = &gru_fwd;
  k.gru_bwd = &gru_bwd;
  k.rnn_fwd = &rnn_fwd;
  k.rnn_bwd = &rnn_bwd;
}

}  // namespace dlcore::DLCORE_ISA_NS
