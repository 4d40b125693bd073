// The float32 SIMD row kernels of the recurrent family, compiled once per ISA: the including file defines
// DLCORE_ISA_NS (avx2, avx512) and DLCORE_VLEN (8, 16) and gets fill_recurrent_kernels() in dlcore::DLCORE_ISA_NS.
// The cell algebra is recurrent.h's shared templates instantiated on the vector type; sigmoid/tanh are vecmath.h's.
// A row's tail (H not a multiple of the vector length) goes through the same vector code on a zero-padded copy.
#pragma once
#include "core/x86_intrin.h"

#include <cstring>

#include "core/common.h"
#include "core/simd_transpose.h"
#include "ops/recurrent/recurrent.h"
// after common.h (DLCORE_ALWAYS_INLINE)
#include "ops/elementwise/vecmath.h"

namespace dlcore::DLCORE_ISA_NS {

namespace {


// A whole vector's lane count as a type: the kernels' bodies are instantiated for it (plain loads and stores, the
// values kept in registers) and for a row's ragged tail (int64_t n: through memory). With one runtime n for both,
// every value stored was first spilled to the stack for the tail's memcpy (8.5% of lstm_fwd's samples on one
// vmovaps to the stack).
struct FullVec {
  constexpr operator int64_t() const { return kVLen; }
};
DLCORE_ALWAYS_INLINE vf load_n(const float* p, FullVec) { return vload(p); }
DLCORE_ALWAYS_INLINE void store_n(float* p, vf v, FullVec) { vstore(p, v); }
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

// exp(x) for x in [-88, 88] (callers clamp): x = n ln2 + r, |r| <= ln2/2, exp(r) by vecmath's degree-6 polynomial
// (within 2 ulp), 2^n applied by one vscalefps on AVX-512 (no integer shifts or split scaling: n never leaves the
// normal range here). AVX2 uses vecmath's vexp.
DLCORE_ALWAYS_INLINE vf gate_exp(vf x) {
#if DLCORE_VLEN == 16
  vf n = (vf)_mm512_maskz_roundscale_ps(0xffff, (__m512)(x * 1.44269504088896341f),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return (vf)_mm512_maskz_scalef_ps(0xffff, (__m512)vexp_reduced(x, n), (__m512)n);
#else
  return vexp(x);
#endif
}

// sigmoid(x) = 1 / (1 + exp(-x)), with x clamped to [-80, 80] so the denominator stays finite (below -80 the result
// is ~1e-35 instead of the exact tiny value: irrelevant to a gate). NaN propagates. Relative error ~2 ulp.
DLCORE_ALWAYS_INLINE vf gate_sigmoid(vf x) {
  vf xc = vmin(vmax(x, vsplat(-80.0f)), vsplat(80.0f));
  vf r = vrecip(1.0f + gate_exp(-xc));
  return vselect(x != x, x, r);
}

// tanh for the gates: vecmath's rational approximation (Eigen's coefficients; ~3 ulp, no exp, no branches).
DLCORE_ALWAYS_INLINE vf gate_tanh(vf x) { return vtanh_rational(x); }

using V = View<float>;
using CV = View<const float>;

// Every kernel: body(r, j, n) for each row r and each vector j in [0, len); n = the lanes in use (a row's tail runs
// zero-padded through the same vector code).
template <class F>
DLCORE_ALWAYS_INLINE void for_vectors(int64_t rows, int64_t len, const F& body) {
  for (int64_t r = 0; r < rows; ++r) {
    int64_t j = 0;
    for (; j + kVLen <= len; j += kVLen) body(r, j, FullVec{});
    if (j < len) body(r, j, len - j);
  }
}

void lstm_fwd(int64_t rows, int64_t len, V G, CV cp, V c, V h) {
  for_vectors(rows, len, [&](int64_t r, int64_t j, auto n) __attribute__((always_inline)) {
    vf i = gate_sigmoid(load_n(G.at(r, 0) + j, n));
    vf f = gate_sigmoid(load_n(G.at(r, 1) + j, n));
    vf g = gate_tanh(load_n(G.at(r, 2) + j, n));
    vf o = gate_sigmoid(load_n(G.at(r, 3) + j, n));
    vf cn = lstm_cell_state<float>(i, f, g, load_n(cp.at(r) + j, n));
    store_n(G.at(r, 0) + j, i, n);
    store_n(G.at(r, 1) + j, f, n);
    store_n(G.at(r, 2) + j, g, n);
    store_n(G.at(r, 3) + j, o, n);
    store_n(c.at(r) + j, cn, n);
    store_n(h.at(r) + j, o * gate_tanh(cn), n);
  });
}

void lstm_bwd(int64_t rows, int64_t len, CV G, CV cp, CV c, CV dhr, CV dy, V dc, V dG) {
  for_vectors(rows, len, [&](int64_t r, int64_t j, auto n) __attribute__((always_inline)) {
    vf dh = load_n(dhr.at(r) + j, n);
    if (dy.p) dh = dh + load_n(dy.at(r) + j, n);
    vf di, df, dg, dout, dcp;
    lstm_cell_backward<float>(load_n(G.at(r, 0) + j, n), load_n(G.at(r, 1) + j, n), load_n(G.at(r, 2) + j, n),
                              load_n(G.at(r, 3) + j, n), gate_tanh(load_n(c.at(r) + j, n)), load_n(cp.at(r) + j, n), dh,
                              load_n(dc.at(r) + j, n), di, df, dg, dout, dcp);
    store_n(dG.at(r, 0) + j, di, n);
    store_n(dG.at(r, 1) + j, df, n);
    store_n(dG.at(r, 2) + j, dg, n);
    store_n(dG.at(r, 3) + j, dout, n);
    store_n(dc.at(r) + j, dcp, n);
  });
}

void gru_fwd(int64_t rows, int64_t len, CV gx, CV gh, CV hp, V h, V S) {
  for_vectors(rows, len, [&](int64_t r, int64_t j, auto n) __attribute__((always_inline)) {
    vf rg = gate_sigmoid(load_n(gx.at(r, 0) + j, n) + load_n(gh.at(r, 0) + j, n));
    vf z = gate_sigmoid(load_n(gx.at(r, 1) + j, n) + load_n(gh.at(r, 1) + j, n));
    vf ghn = load_n(gh.at(r, 2) + j, n);
    vf nn = gate_tanh(gru_n_pre<float>(load_n(gx.at(r, 2) + j, n), rg, ghn));
    store_n(h.at(r) + j, gru_cell_state<float>(z, nn, load_n(hp.at(r) + j, n)), n);
    if (!S.p) return;  // inference: no gate states saved
    store_n(S.at(r, 0) + j, rg, n);
    store_n(S.at(r, 1) + j, z, n);
    store_n(S.at(r, 2) + j, nn, n);
    store_n(S.at(r, 3) + j, ghn, n);
  });
}

void gru_bwd(int64_t rows, int64_t len, CV S, CV hp, V dhr, CV dy, V dgx, V dgh) {
  for_vectors(rows, len, [&](int64_t r, int64_t j, auto n) __attribute__((always_inline)) {
    vf dh = load_n(dhr.at(r) + j, n);
    if (dy.p) dh = dh + load_n(dy.at(r) + j, n);
    vf dr, dz, dnx, dnh, dhp;
    gru_cell_backward<float>(load_n(S.at(r, 0) + j, n), load_n(S.at(r, 1) + j, n), load_n(S.at(r, 2) + j, n),
                             load_n(S.at(r, 3) + j, n), load_n(hp.at(r) + j, n), dh, dr, dz, dnx, dnh, dhp);
    store_n(dgx.at(r, 0) + j, dr, n);
    store_n(dgx.at(r, 1) + j, dz, n);
    store_n(dgx.at(r, 2) + j, dnx, n);
    store_n(dgh.at(r, 0) + j, dr, n);
    store_n(dgh.at(r, 1) + j, dz, n);
    store_n(dgh.at(r, 2) + j, dnh, n);
    store_n(dhr.at(r) + j, dhp, n);
  });
}

void rnn_fwd(int64_t rows, int64_t len, int relu, CV G, V h) {
  for_vectors(rows, len, [&](int64_t r, int64_t j, auto n) __attribute__((always_inline)) {
    vf x = load_n(G.at(r) + j, n);
    vf v = relu ? vselect(x > 0.0f, x, vselect(x != x, x, vsplat(0.0f))) : gate_tanh(x);
    store_n(h.at(r) + j, v, n);
  });
}

void rnn_bwd(int64_t rows, int64_t len, int relu, CV h, CV dhr, CV dy, V dG) {
  for_vectors(rows, len, [&](int64_t r, int64_t j, auto n) __attribute__((always_inline)) {
    vf dh = load_n(dhr.at(r) + j, n);
    if (dy.p) dh = dh + load_n(dy.at(r) + j, n);
    vf hv = load_n(h.at(r) + j, n);
    vf d = relu ? vselect(hv > 0.0f, dh, vsplat(0.0f)) : rnn_tanh_grad<float>(hv, dh);
    store_n(dG.at(r) + j, d, n);
  });
}

}  // namespace

// dst[c * ldd + r] = src[r * s0 + c] for r < R, c < C: the drivers' layout changes (h^T <-> h, dy -> dy^T, W_hh^T)
// and transposing copies (copy_as_transposes). AVX-512: strips of 16 source rows, 16 x 16 blocks transposed in
// registers, so every block reads 16 whole 64-byte lines and writes 16 (ragged edges by masked loads and stores).
// The former pairs of 8 x 8 blocks read half lines: the second half was gone by the time the next block came back
// for it when the rows' stride is a multiple of 4 KiB (all rows in one L1 set), 512 x 512 ran 181 -> 40 us, 1024 x
// 1024 748 -> 211 us (1 thread, Zen 5). stream: non-temporal stores for whole blocks when dst is 64-byte aligned
// along rows (the caller's choice for outputs beyond the caches: 2048 x 2048 2.1 -> 1.45 ms, 3072 x 3072 7.4 -> 3.4
// ms; 1.7x slower on outputs that would have stayed in L3). AVX2: pairs of 8 x 8 blocks (core/simd_transpose.h);
// ragged edges element by element.
void transpose_f32(const float* __restrict src, int64_t R, int64_t C, int64_t s0, float* __restrict dst,
                   int64_t ldd, bool stream) {
#if DLCORE_VLEN == 16 && defined(__AVX512F__)
  const bool st = stream && ldd % 16 == 0 && reinterpret_cast<uintptr_t>(dst) % 64 == 0;
  for (int64_t r0 = 0; r0 < R; r0 += 16) {
    const int nr = (int)std::min<int64_t>(16, R - r0);
    const float* s = src + r0 * s0;
    float* d = dst + r0;
    int64_t c0 = 0;
    if (nr == 16) {
      if (st)
        for (; c0 + 16 <= C; c0 += 16) transpose16x16<true>(s + c0, s0, 16, 16, d + c0 * ldd, ldd);
      else
        for (; c0 + 16 <= C; c0 += 16) transpose16x16(s + c0, s0, 16, 16, d + c0 * ldd, ldd);
    }
    for (; c0 < C; c0 += 16) transpose16x16(s + c0, s0, nr, (int)std::min<int64_t>(16, C - c0), d + c0 * ldd, ldd);
  }
  if (st) _mm_sfence();
  return;
#endif
  (void)stream;
  int64_t r0 = 0;
  // 16 source rows per strip: each destination row gets 16 floats (a whole 64-byte line) at once, not two halves
  // written in different strips (a 512 x 512 transpose ran at ~200 cycles per 8 x 8 block)
  for (; r0 + 16 <= R; r0 += 16) {
    const float* s = src + r0 * s0;
    int64_t c0 = 0;
    for (; c0 + 8 <= C; c0 += 8) {
      transpose8x8(s + c0, s0, dst + c0 * ldd + r0, ldd);
      transpose8x8(s + 8 * s0 + c0, s0, dst + c0 * ldd + r0 + 8, ldd);
    }
    for (; c0 < C; ++c0)
      for (int i = 0; i < 16; ++i) dst[c0 * ldd + r0 + i] = s[i * s0 + c0];
  }
  for (; r0 + 8 <= R; r0 += 8) {
    const float* s = src + r0 * s0;
    int64_t c0 = 0;
    for (; c0 + 8 <= C; c0 += 8) transpose8x8(s + c0, s0, dst + c0 * ldd + r0, ldd);
    for (; c0 < C; ++c0)
      for (int i = 0; i < 8; ++i) dst[c0 * ldd + r0 + i] = s[i * s0 + c0];
  }
  for (; r0 < R; ++r0)
    for (int64_t c = 0; c < C; ++c) dst[c * ldd + r0] = src[r0 * s0 + c];
}

void fill_recurrent_kernels(RecurrentKernels<float>& k) {
  k.lstm_fwd = &lstm_fwd;
  k.lstm_bwd = &lstm_bwd;
  k.gru_fwd = &gru_fwd;
  k.gru_bwd = &gru_bwd;
  k.rnn_fwd = &rnn_fwd;
  k.rnn_bwd = &rnn_bwd;
}

}  // namespace dlcore::DLCORE_ISA_NS
