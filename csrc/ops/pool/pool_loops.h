// The max-pool loops, compiled once per ISA (the including file defines DLCORE_ISA_NS and DLCORE_VLEN).
// General path: the torch scan over each window. Fast path (float32, DLCORE_VLEN > 1): 2x2 windows, stride 2, no
// padding, dilation 1 (the lecture ConvNet's pool): even/odd columns of two input rows split by shuffles, the
// same scan rule applied lane-wise, so values and argmax match the general path exactly.
#pragma once
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/pool/pool_tables.h"
#if DLCORE_VLEN > 1
#include "ops/elementwise/vecmath.h"
#endif

namespace dlcore::DLCORE_ISA_NS {

// The argmax (h * W + w) and max of one window; m = -inf and the first valid index when all are -inf.
template <class T>
DLCORE_ALWAYS_INLINE int64_t window_argmax(const T* plane, int64_t H, int64_t W, int64_t oh, int64_t ow,
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

// (the callers also require every window inside the input: 2 Ho <= H and 2 Wo <= W, i.e. no ceil_mode overhang)
inline bool is_2x2_fast(const Pool2dParams& p) {
  return p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && p.dh == 1 && p.dw == 1;
}

#if DLCORE_VLEN > 1
DLCORE_ALWAYS_INLINE void split_even_odd(vf a, vf b, vf& e, vf& o) {
#if DLCORE_VLEN == 8
  e = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
  o = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
#else
  e = __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  o = __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
#endif
}
DLCORE_ALWAYS_INLINE void interleave(vf e, vf o, vf& lo, vf& hi) {
#if DLCORE_VLEN == 8
  lo = __builtin_shufflevector(e, o, 0, 8, 1, 9, 2, 10, 3, 11);
  hi = __builtin_shufflevector(e, o, 4, 12, 5, 13, 6, 14, 7, 15);
#else
  lo = __builtin_shufflevector(e, o, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  hi = __builtin_shufflevector(e, o, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
#endif
}
// Lane-wise scan of the 4 window elements in row-major order; k = the winning position (0..3).
DLCORE_ALWAYS_INLINE vf scan4(vf a, vf b, vf c, vf d, vi& k) {
  vf m = a;
  k = vi{} + 0;
  vi t = (b > m) | (b != b);
  m = vselect(t, b, m);
  k = (t & 1) | (~t & k);
  t = (c > m) | (c != c);
  m = vselect(t, c, m);
  k = (t & 2) | (~t & k);
  t = (d > m) | (d != d);
  m = vselect(t, d, m);
  k = (t & 3) | (~t & k);
  return m;
}
#endif

template <class T>
void max_pool_fwd(char* outp, int64_t* idx, const char* inp, int64_t p0, int64_t p1, int64_t H, int64_t W,
                  int64_t Ho, int64_t Wo, const Pool2dParams& p) {
  T* out = reinterpret_cast<T*>(outp);
  const T* in = reinterpret_cast<const T*>(inp);
  for (int64_t pl = p0; pl < p1; ++pl) {
    const T* plane = in + pl * H * W;
    T* op = out + pl * Ho * Wo;
    int64_t* ip = idx ? idx + pl * Ho * Wo : nullptr;
#if DLCORE_VLEN > 1
    if constexpr (std::is_same_v<T, float>) {
      if (is_2x2_fast(p) && !ip && 2 * Ho <= H && 2 * Wo <= W) {
        for (int64_t oh = 0; oh < Ho; ++oh) {
          const float* r0 = plane + 2 * oh * W;
          const float* r1 = r0 + W;
          float* o = op + oh * Wo;
          int64_t ow = 0;
          for (; ow + kVLen <= Wo; ow += kVLen) {
            vf e0, o0, e1, o1;
            split_even_odd(vload(r0 + 2 * ow), vload(r0 + 2 * ow + kVLen), e0, o0);
            split_even_odd(vload(r1 + 2 * ow), vload(r1 + 2 * ow + kVLen), e1, o1);
            vi k;
            vstore(o + ow, scan4(e0, o0, e1, o1, k));
          }
          for (; ow < Wo; ++ow) {
            float m;
            window_argmax(plane, H, W, oh, ow, p, &m);
            o[ow] = m;
          }
        }
        continue;
      }
    }
#endif
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        T m;
        int64_t b = window_argmax(plane, H, W, oh, ow, p, &m);
        op[oh * Wo + ow] = m;
        if (ip) ip[oh * Wo + ow] = b;
      }
  }
}

template <class T>
void max_pool_bwd(char* ginp, const char* goutp, const char* inp, int64_t p0, int64_t p1, int64_t H, int64_t W,
                  int64_t Ho, int64_t Wo, const Pool2dParams& p) {
  T* gin = reinterpret_cast<T*>(ginp);
  const T* gout = reinterpret_cast<const T*>(goutp);
  const T* in = reinterpret_cast<const T*>(inp);
  for (int64_t pl = p0; pl < p1; ++pl) {
    const T* plane = in + pl * H * W;
    const T* g = gout + pl * Ho * Wo;
    T* gp = gin + pl * H * W;
#if DLCORE_VLEN > 1
    if constexpr (std::is_same_v<T, float>) {
      if (is_2x2_fast(p) && 2 * Ho <= H && 2 * Wo <= W) {
        // Windows tile the top-left [2 Ho, 2 Wo] block; the rest of the plane (odd H or W) gets zeros.
        for (int64_t oh = 0; oh < Ho; ++oh) {
          const float* r0 = plane + 2 * oh * W;
          const float* r1 = r0 + W;
          float* q0 = gp + 2 * oh * W;
          float* q1 = q0 + W;
          const float* go = g + oh * Wo;
          int64_t ow = 0;
          for (; ow + kVLen <= Wo; ow += kVLen) {
            vf e0, o0, e1, o1;
            split_even_odd(vload(r0 + 2 * ow), vload(r0 + 2 * ow + kVLen), e0, o0);
            split_even_odd(vload(r1 + 2 * ow), vload(r1 + 2 * ow + kVLen), e1, o1);
            vi k;
            scan4(e0, o0, e1, o1, k);
            vf gv = vload(go + ow), z = vsplat(0.0f);
            vf ge0 = vselect(k == 0, gv, z), go0 = vselect(k == 1, gv, z);
            vf ge1 = vselect(k == 2, gv, z), go1 = vselect(k == 3, gv, z);
            vf lo, hi;
            interleave(ge0, go0, lo, hi);
            vstore(q0 + 2 * ow, lo);
            vstore(q0 + 2 * ow + kVLen, hi);
            interleave(ge1, go1, lo, hi);
            vstore(q1 + 2 * ow, lo);
            vstore(q1 + 2 * ow + kVLen, hi);
          }
          for (; ow < Wo; ++ow) {
            float m;
            int64_t b = window_argmax(plane, H, W, oh, ow, p, &m);
            q0[2 * ow] = q0[2 * ow + 1] = q1[2 * ow] = q1[2 * ow + 1] = 0.0f;
            gp[b] = go[ow];
          }
          for (int64_t w = 2 * Wo; w < W; ++w) q0[w] = q1[w] = 0.0f;
        }
        if (2 * Ho < H) std::memset(gp + 2 * Ho * W, 0, (H - 2 * Ho) * W * sizeof(float));
        continue;
      }
    }
#endif
    std::memset(gp, 0, H * W * sizeof(T));
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        T m;
        int64_t b = window_argmax(plane, H, W, oh, ow, p, &m);
        if (b >= 0) gp[b] += g[oh * Wo + ow];
      }
  }
}

void fill_max_pool_table(MaxPoolTable& t) {
  t.fwd[0] = &max_pool_fwd<float>;
  t.fwd[1] = &max_pool_fwd<double>;
  t.bwd[0] = &max_pool_bwd<float>;
  t.bwd[1] = &max_pool_bwd<double>;
}

}  // namespace dlcore::DLCORE_ISA_NS
