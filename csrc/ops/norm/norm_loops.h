// The batch-norm loops, compiled once per ISA (the including file defines DLCORE_ISA_NS and DLCORE_VLEN). Plain
// loops written so the compiler vectorises them for the file's ISA: sums use 8 independent float64 partial sums
// (SLP-vectorised), the normalisation is one fused multiply-add per element. Per channel the data is read from
// memory once; the second and third passes over a channel's N x S slice mostly hit L2.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "ops/norm/norm_tables.h"
#if DLCORE_VLEN > 1
#include "ops/elementwise/vecmath.h"
#endif

namespace dlcore::DLCORE_ISA_NS {

#if DLCORE_VLEN > 1
// float32 fast path (training, S > 1, C at least the thread count): threads over channels; per channel one pass
// over its N rows accumulating in float32 lanes, flushed into float64 every kBnFlush elements, then the
// elementwise pass over the same N x S slice while it is still in L2. Memory sees one read (plus one read of g in
// the backward) and one write.
//   forward sums are shifted by K = the midrange of the channel's first 16 elements: s1 = sum (x - K),
//   s2 = sum (x - K)^2, then
//   mean = K + s1/n, var = s2/n - (s1/n)^2. With K a sample of the data, (mean - K)^2 is of the order of var,
//   so the subtraction loses no more than a few bits (a constant channel gives exactly 0); when it is not
//   ((mean - K)^2 > 4 var: an outlier among those elements) the channel's statistics are recomputed exactly in
//   two float64 passes over its slice, which is in L2.
constexpr int64_t kBnFlush = 1024;  // elements per float32 partial sum chunk (64 or 128 adds per lane)

DLCORE_ALWAYS_INLINE double bn_hsum_d(vf v) {
  double s = 0;
  for (int j = 0; j < kVLen; ++j) s += (double)v[j];
  return s;
}

// y = A g + B (x - M) + K (g null: y = A (x - M) + K) over one channel's rows; vec() does kVLen elements at
// offset i of row n. x - M before scaling: a channel far from 0 relative to its spread does not cancel.
struct BnAffine {
  float* y;
  const float* g;
  const float* x;
  int64_t rs;
  float M, A, B, K;
  DLCORE_ALWAYS_INLINE void vec(int64_t n, int64_t i) const {
    const int64_t o = n * rs + i;
    const vf d = vload(x + o) - M;
    vstore(y + o, g ? vsplat(A) * vload(g + o) + vsplat(B) * d + vsplat(K) : d * A + K);
  }
  DLCORE_ALWAYS_INLINE void tail(int64_t n, int64_t i) const {
    const int64_t o = n * rs + i;
    y[o] = g ? A * g[o] + B * (x[o] - M) + K : (x[o] - M) * A + K;
  }
};

inline void bn_channel_affine(const BnAffine& a, int64_t N, int64_t S) {
  for (int64_t n = 0; n < N; ++n) {
    int64_t i = 0;
    for (; i + kVLen <= S; i += kVLen) a.vec(n, i);
    for (; i < S; ++i) a.tail(n, i);
  }
}

// The channel's N rows of S floats (row stride rs) in float32 lanes: per vector f(x, x2) accumulates into one of
// two pairs of lane sums; f1 does the same for the row tails of < kVLen elements into float64 directly. The lane
// sums are flushed into float64 after every kBnFlush elements (64 or 128 adds per lane between flushes), not per
// row: rows of a few hundred floats would otherwise pay a horizontal sum each. The next row is prefetched while
// this one is summed (rows are C S floats apart: each is a short stream the hardware prefetcher ramps up late).
template <class F2, class F1>
DLCORE_ALWAYS_INLINE void bn_channel_sums(const float* x, const float* x2, int64_t N, int64_t S, int64_t rs,
                                          double& t1, double& t2, F2 f, F1 f1) {
  vf a0 = vsplat(0.0f), a1 = a0, b0 = a0, b1 = a0;
  int64_t pending = 0;
  auto flush = [&] {
    t1 += bn_hsum_d(a0 + a1);
    t2 += bn_hsum_d(b0 + b1);
    a0 = a1 = b0 = b1 = vsplat(0.0f);
    pending = 0;
  };
  for (int64_t n = 0; n < N; ++n) {
    const float* xr = x + n * rs;
    const float* yr = x2 ? x2 + n * rs : nullptr;
    const int64_t nxt = n + 1 < N ? rs : 0;
    int64_t i = 0;
    while (i + kVLen <= S) {
      const int64_t i0 = i, e = std::min(S, i + kBnFlush);
      for (; i + 2 * kVLen <= e; i += 2 * kVLen) {
        for (int l = 0; l < 2 * kVLen; l += 16) {
          __builtin_prefetch(xr + nxt + i + l);
          if (yr) __builtin_prefetch(yr + nxt + i + l);
        }
        f(xr + i, yr ? yr + i : nullptr, a0, b0);
        f(xr + i + kVLen, yr ? yr + i + kVLen : nullptr, a1, b1);
      }
      for (; i + kVLen <= e; i += kVLen) {
        f(xr + i, yr ? yr + i : nullptr, a0, b0);
      }
      pending += i - i0;  // < 2 kBnFlush elements per lane sum between flushes
      if (pending >= kBnFlush) flush();
    }
    for (; i < S; ++i) {
      f1(xr[i], yr ? yr[i] : 0.0f, t1, t2);
    }
  }
  flush();
}

inline void bn_shifted_sums_f32(const float* x, int64_t N, int64_t S, int64_t rs, float K, double& s1, double& s2) {
  const vf vk = vsplat(K);
  bn_channel_sums(
      x, nullptr, N, S, rs, s1, s2,
      [&](const float* p, const float*, vf& a, vf& b) {
        vf d = vload(p) - vk;
        a += d;
        b += d * d;
      },
      [&](float v, float, double& u1, double& u2) {
        double d = (double)(v - K);
        u1 += d;
        u2 += d * d;
      });
}

// sum g and sum g (x - mean), float32 lanes flushed into float64 like bn_shifted_sums_f32.
inline void bn_g_gx_sums_f32(const float* g, const float* x, int64_t N, int64_t S, int64_t rs, float mean,
                             double& sg, double& sgx) {
  const vf vm = vsplat(mean);
  bn_channel_sums(
      g, x, N, S, rs, sg, sgx,
      [&](const float* pg, const float* px, vf& a, vf& b) {
        vf gv = vload(pg);
        a += gv;
        b += gv * (vload(px) - vm);
      },
      [&](float gv, float xv, double& u1, double& u2) {
        u1 += (double)gv;
        u2 += (double)gv * (double)(xv - mean);
      });
}

inline bool bn_fast_path(int64_t C, int64_t S) { return S > 1 && C >= (int64_t)get_num_threads(); }
#endif

template <class T>
double sum_row(const T* DLCORE_RESTRICT x, int64_t n) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) a[j] += (double)x[i + j];
  double s = 0;
  for (; i < n; ++i) s += (double)x[i];
  return s + ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

template <class T>
double sumsq_dev_row(const T* DLCORE_RESTRICT x, int64_t n, double mean) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      double d = (double)x[i + j] - mean;
      a[j] += d * d;
    }
  double s = 0;
  for (; i < n; ++i) {
    double d = (double)x[i] - mean;
    s += d * d;
  }
  return s + ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// sum g and sum g (x - mean)
template <class T>
void sum_g_gx_row(const T* DLCORE_RESTRICT g, const T* DLCORE_RESTRICT x, int64_t n, double mean, double& sg,
                  double& sgx) {
  double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      double gv = (double)g[i + j];
      a[j] += gv;
      b[j] += gv * ((double)x[i + j] - mean);
    }
  double s1 = 0, s2 = 0;
  for (; i < n; ++i) {
    s1 += (double)g[i];
    s2 += (double)g[i] * ((double)x[i] - mean);
  }
  for (int j = 0; j < 8; ++j) {
    s1 += a[j];
    s2 += b[j];
  }
  sg += s1;
  sgx += s2;
}

template <class T>
void affine_row(T* DLCORE_RESTRICT y, const T* DLCORE_RESTRICT x, int64_t n, T mean, T scale, T shift) {
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * scale + shift;
}

template <class T>
void affine2_row(T* DLCORE_RESTRICT y, const T* DLCORE_RESTRICT g, const T* DLCORE_RESTRICT x, int64_t n, T mean,
                 T a, T b, T c) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * g[i] + b * (x[i] - mean) + c;
}

// Channel statistics -> (mean, invstd), running update, output.
template <class T>
void bn_fwd(char* yp, char* smp, char* sip, const char* xp, const char* wp, const char* bp, char* rmp, char* rvp,
            int64_t N, int64_t C, int64_t S, const BatchNormArgs& a) {
  T* y = reinterpret_cast<T*>(yp);
  T* save_mean = reinterpret_cast<T*>(smp);
  T* save_invstd = reinterpret_cast<T*>(sip);
  const T* x = reinterpret_cast<const T*>(xp);
  const T* w = reinterpret_cast<const T*>(wp);
  const T* b = reinterpret_cast<const T*>(bp);
  T* rm = reinterpret_cast<T*>(rmp);
  T* rv = reinterpret_cast<T*>(rvp);
  const int64_t cnt = N * S;
  auto stats = [&](int64_t c, double mean, double var) {
    save_mean[c] = (T)mean;
    save_invstd[c] = (T)(1.0 / std::sqrt(var + a.eps));
    if (a.training) {
      if (rm) rm[c] = ema<T>(rm[c], (T)mean, a.momentum);
      if (rv) rv[c] = ema<T>(rv[c], (T)bn_unbiased<double>(var, cnt), a.momentum);
    }
  };
  if (S == 1 && a.training) {  // (N, C): column sums over rows, vectorised over channels
    std::vector<double> s(C, 0.0), q(C, 0.0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) s[c] += (double)x[n * C + c];
    for (int64_t c = 0; c < C; ++c) s[c] /= (double)cnt;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        double d = (double)x[n * C + c] - s[c];
        q[c] += d * d;
      }
    for (int64_t c = 0; c < C; ++c) stats(c, s[c], q[c] / (double)cnt);
  } else if (a.training) {
#if DLCORE_VLEN > 1
    if constexpr (std::is_same_v<T, float>) {
      if (bn_fast_path(C, S)) {
        parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) {
            // the shift: the midrange of the channel's first (up to) 16 elements (exactly the value for a
            // constant channel; rarely far enough from the mean to need the exact fallback below)
            const float* x0 = x + c * S;
            float mn = x0[0], mx = x0[0];
            for (int64_t j = 1; j < std::min<int64_t>(S, 16); ++j) {
              mn = std::min(mn, x0[j]);
              mx = std::max(mx, x0[j]);
            }
            const float K = 0.5f * mn + 0.5f * mx;
            double s1 = 0, s2 = 0;
            bn_shifted_sums_f32(x + c * S, N, S, C * S, K, s1, s2);
            const double d = s1 / (double)cnt;
            double mean = (double)K + d, var = s2 / (double)cnt - d * d;
            if (!(d * d <= 4.0 * var)) {
              // The shift was far from the mean (an outlier first element, or a constant-but-for-a-few channel):
              // the float32 squares lost too much. Exact two-pass float64 statistics instead, from L2. A channel
              // that is exactly constant has d = var = 0 and stays on the fast path.
              if (!(d == 0.0 && var == 0.0)) {
                double t = 0;
                for (int64_t n = 0; n < N; ++n) t += sum_row(x + (n * C + c) * S, S);
                mean = t / (double)cnt;
                double q = 0;
                for (int64_t n = 0; n < N; ++n) q += sumsq_dev_row(x + (n * C + c) * S, S, mean);
                var = q / (double)cnt;
              }
            }
            stats(c, mean, std::max(0.0, var));
            const float sc = save_invstd[c] * (w ? w[c] : 1.0f);
            const float sh = b ? b[c] : 0.0f;
            bn_channel_affine(BnAffine{y + c * S, nullptr, x + c * S, C * S, save_mean[c], sc, 0.0f, sh}, N, S);
          }
        });
        return;
      }
    }
#endif
    parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) s += sum_row(x + (n * C + c) * S, S);
        double mean = s / (double)cnt, q = 0;
        for (int64_t n = 0; n < N; ++n) q += sumsq_dev_row(x + (n * C + c) * S, S, mean);
        stats(c, mean, q / (double)cnt);
      }
    });
  } else {
    for (int64_t c = 0; c < C; ++c) {
      save_mean[c] = rm[c];
      save_invstd[c] = bn_invstd<T>(rv[c], a.eps);
    }
  }
  // y = (x - mean_c) * scale_c + shift_c (x - mean first: no cancellation for channels far from 0)
  if (S == 1) {
    std::vector<T> sc(C), sh(C);
    for (int64_t c = 0; c < C; ++c) {
      sc[c] = save_invstd[c] * (w ? w[c] : T(1));
      sh[c] = b ? b[c] : T(0);
    }
    parallel_for(0, N, std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1)), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t c = 0; c < C; ++c) y[n * C + c] = (x[n * C + c] - save_mean[c]) * sc[c] + sh[c];
    });
    return;
  }
  parallel_for(0, N * C, std::max<int64_t>(1, 16384 / S), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t c = r % C;
      T sc = save_invstd[c] * (w ? w[c] : T(1));
      T sh = b ? b[c] : T(0);
      affine_row(y + r * S, x + r * S, S, save_mean[c], sc, sh);
    }
  });
}

template <class T>
void bn_bwd(char* gxp, char* gwp, char* gbp, const char* gp, const char* xp, const char* wp, const char* mp,
            const char* ip, int64_t N, int64_t C, int64_t S, bool training) {
  T* gx = reinterpret_cast<T*>(gxp);
  T* gw = reinterpret_cast<T*>(gwp);
  T* gb = reinterpret_cast<T*>(gbp);
  const T* g = reinterpret_cast<const T*>(gp);
  const T* x = reinterpret_cast<const T*>(xp);
  const T* w = reinterpret_cast<const T*>(wp);
  const T* mean = reinterpret_cast<const T*>(mp);
  const T* invstd = reinterpret_cast<const T*>(ip);
  const double cnt = (double)(N * S);
#if DLCORE_VLEN > 1
  if constexpr (std::is_same_v<T, float>) {
    if (bn_fast_path(C, S)) {
      parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          double sg = 0, sgx = 0;
          bn_g_gx_sums_f32(g + c * S, x + c * S, N, S, C * S, mean[c], sg, sgx);
          if (gw) gw[c] = (float)(sgx * (double)invstd[c]);
          if (gb) gb[c] = (float)sg;
          if (!gx) continue;
          double wi = (w ? (double)w[c] : 1.0) * (double)invstd[c];
          float A = (float)wi, B = 0.0f, K = 0.0f;
          if (training) {
            double dw = sgx * (double)invstd[c];
            double bb = -wi * (double)invstd[c] * dw / cnt;
            B = (float)bb;
            K = (float)(-wi * sg / cnt);
          }
          bn_channel_affine(BnAffine{gx + c * S, g + c * S, x + c * S, C * S, mean[c], A, B, K}, N, S);
        }
      });
      return;
    }
  }
#endif
  std::vector<double> sg(C, 0.0), sgx(C, 0.0);
  // Per-channel sums of g and g (x - mean).
  if (S == 1) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        double gv = (double)g[n * C + c];
        sg[c] += gv;
        sgx[c] += gv * ((double)x[n * C + c] - (double)mean[c]);
      }
  } else {
    parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t n = 0; n < N; ++n)
          sum_g_gx_row(g + (n * C + c) * S, x + (n * C + c) * S, S, (double)mean[c], sg[c], sgx[c]);
    });
  }
  for (int64_t c = 0; c < C; ++c) {
    if (gw) gw[c] = (T)(sgx[c] * (double)invstd[c]);
    if (gb) gb[c] = (T)sg[c];
  }
  if (!gx) return;
  // gx = A g + B (x - mean) + K per channel.
  std::vector<T> A(C), B(C), K(C);
  for (int64_t c = 0; c < C; ++c) {
    double wi = (w ? (double)w[c] : 1.0) * (double)invstd[c];
    if (training) {
      double dw = sgx[c] * (double)invstd[c];
      double b = -wi * (double)invstd[c] * dw / cnt;
      A[c] = (T)wi;
      B[c] = (T)b;
      K[c] = (T)(-wi * sg[c] / cnt);
    } else {
      A[c] = (T)wi;
      B[c] = T(0);
      K[c] = T(0);
    }
  }
  if (S == 1) {
    parallel_for(0, N, std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1)), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t c = 0; c < C; ++c) gx[n * C + c] = A[c] * g[n * C + c] + B[c] * (x[n * C + c] - mean[c]) + K[c];
    });
    return;
  }
  parallel_for(0, N * C, std::max<int64_t>(1, 16384 / S), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t c = r % C;
      affine2_row(gx + r * S, g + r * S, x + r * S, S, mean[c], A[c], B[c], K[c]);
    }
  });
}

// Row sums for layer_norm in kLn independent lanes of T (vectorised by the compiler for the file's ISA), flushed
// into float64 every kLnFlush elements: sum(a), and sum((a o w) (x - m)) with w optional (then sum(a o w)).
constexpr int kLn = 16;
constexpr int64_t kLnFlush = 1024;

template <class T>
double ln_sum(const T* DLCORE_RESTRICT x, int64_t n) {
  double total = 0;
  for (int64_t c0 = 0; c0 < n; c0 += kLnFlush) {
    const int64_t c1 = std::min(n, c0 + kLnFlush);
    T a[kLn] = {};
    int64_t i = c0;
    for (; i + kLn <= c1; i += kLn)
      for (int j = 0; j < kLn; ++j) a[j] += x[i + j];
    for (; i < c1; ++i) a[0] += x[i];
    for (int j = 0; j < kLn; ++j) total += (double)a[j];
  }
  return total;
}

template <class T>
double ln_sumsq_dev(const T* DLCORE_RESTRICT x, int64_t n, T m) {
  double total = 0;
  for (int64_t c0 = 0; c0 < n; c0 += kLnFlush) {
    const int64_t c1 = std::min(n, c0 + kLnFlush);
    T a[kLn] = {};
    int64_t i = c0;
    for (; i + kLn <= c1; i += kLn)
      for (int j = 0; j < kLn; ++j) {
        const T d = x[i + j] - m;
        a[j] += d * d;
      }
    for (; i < c1; ++i) a[0] += (x[i] - m) * (x[i] - m);
    for (int j = 0; j < kLn; ++j) total += (double)a[j];
  }
  return total;
}

// s1 = sum(g w), s2 = sum(g w (x - m)) (w null: 1).
template <class T>
void ln_sum_gw(const T* DLCORE_RESTRICT g, const T* DLCORE_RESTRICT w, const T* DLCORE_RESTRICT x, int64_t n, T m,
               double& s1, double& s2) {
  s1 = s2 = 0;
  for (int64_t c0 = 0; c0 < n; c0 += kLnFlush) {
    const int64_t c1 = std::min(n, c0 + kLnFlush);
    T a[kLn] = {}, b[kLn] = {};
    int64_t i = c0;
    for (; i + kLn <= c1; i += kLn)
      for (int j = 0; j < kLn; ++j) {
        const T gw = w ? g[i + j] * w[i + j] : g[i + j];
        a[j] += gw;
        b[j] += gw * (x[i + j] - m);
      }
    for (; i < c1; ++i) {
      const T gw = w ? g[i] * w[i] : g[i];
      a[0] += gw;
      b[0] += gw * (x[i] - m);
    }
    for (int j = 0; j < kLn; ++j) {
      s1 += (double)a[j];
      s2 += (double)b[j];
    }
  }
}

// layer_norm: a row of D elements per normalisation (rows are read once from memory; the second and third passes
// hit L1/L2). Statistics in two passes (the mean, then the squared deviations: no cancellation), summed in T lanes
// flushed into float64 every kLnFlush elements.
template <class T>
void ln_fwd(char* yp, char* mp, char* rp, const char* xp, const char* wp, const char* bp, int64_t R, int64_t D,
            double eps) {
  T* y = reinterpret_cast<T*>(yp);
  T* mean = reinterpret_cast<T*>(mp);
  T* rstd = reinterpret_cast<T*>(rp);
  const T* x = reinterpret_cast<const T*>(xp);
  const T* w = reinterpret_cast<const T*>(wp);
  const T* b = reinterpret_cast<const T*>(bp);
  parallel_for(0, R, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * D;
      T* yr = y + r * D;
      const double m = ln_sum(xr, D) / (double)D;
      const double is = 1.0 / std::sqrt(ln_sumsq_dev(xr, D, (T)m) / (double)D + eps);
      mean[r] = (T)m;
      rstd[r] = (T)is;
      const T mt = (T)m, st = (T)is;
      if (w && b)
        for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - mt) * st * w[i] + b[i];
      else if (w)
        for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - mt) * st * w[i];
      else if (b)
        for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - mt) * st + b[i];
      else
        for (int64_t i = 0; i < D; ++i) yr[i] = (xr[i] - mt) * st;
    }
  });
}

// dx = rstd (g w - mean(g w) - xhat mean(g w xhat)); dw = sum over rows of g xhat, db = sum of g (per-thread
// partial rows, added in thread order: deterministic for a given thread count).
template <class T>
void ln_bwd(char* gxp, char* gwp, char* gbp, const char* gp, const char* xp, const char* wp, const char* mp,
            const char* rp, int64_t R, int64_t D) {
  T* gx = reinterpret_cast<T*>(gxp);
  T* gw = reinterpret_cast<T*>(gwp);
  T* gb = reinterpret_cast<T*>(gbp);
  const T* g = reinterpret_cast<const T*>(gp);
  const T* x = reinterpret_cast<const T*>(xp);
  const T* w = reinterpret_cast<const T*>(wp);
  const T* mean = reinterpret_cast<const T*>(mp);
  const T* rstd = reinterpret_cast<const T*>(rp);
  const int64_t nt = std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), R));
  const bool partial = gw || gb;
  std::vector<T> part(partial ? (size_t)(nt * 2 * D) : 0, T(0));
  parallel_for(0, nt, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      T* pw = partial ? part.data() + t * 2 * D : nullptr;
      T* pb = partial ? pw + D : nullptr;
      for (int64_t r = R * t / nt; r < R * (t + 1) / nt; ++r) {
        const T* xr = x + r * D;
        const T* g_r = g + r * D;
        const T m = mean[r], is = rstd[r];
        double s1, s2;
        ln_sum_gw(g_r, w, xr, D, m, s1, s2);
        const T c1 = (T)(s1 / (double)D), c2 = (T)(s2 * (double)is * (double)is / (double)D);
        if (gx) {
          T* o = gx + r * D;
          if (w)
            for (int64_t i = 0; i < D; ++i) o[i] = is * (g_r[i] * w[i] - c1 - (xr[i] - m) * c2);
          else
            for (int64_t i = 0; i < D; ++i) o[i] = is * (g_r[i] - c1 - (xr[i] - m) * c2);
        }
        if (pw && pb)
          for (int64_t i = 0; i < D; ++i) {
            pw[i] += g_r[i] * ((xr[i] - m) * is);
            pb[i] += g_r[i];
          }
        else if (pw)
          for (int64_t i = 0; i < D; ++i) pw[i] += g_r[i] * ((xr[i] - m) * is);
        else if (pb)
          for (int64_t i = 0; i < D; ++i) pb[i] += g_r[i];
      }
    }
  });
  for (int64_t t = 0; t < nt && partial; ++t)
    for (int64_t i = 0; i < D; ++i) {
      if (gw) gw[i] = (t ? gw[i] : T(0)) + part[t * 2 * D + i];
      if (gb) gb[i] = (t ? gb[i] : T(0)) + part[t * 2 * D + D + i];
    }
}

void fill_batch_norm_table(BatchNormTable& t) {
  t.ln_fwd[0] = &ln_fwd<float>;
  t.ln_fwd[1] = &ln_fwd<double>;
  t.ln_bwd[0] = &ln_bwd<float>;
  t.ln_bwd[1] = &ln_bwd<double>;
  t.fwd[0] = &bn_fwd<float>;
  t.fwd[1] = &bn_fwd<double>;
  t.bwd[0] = &bn_bwd<float>;
  t.bwd[1] = &bn_bwd<double>;
}

}  // namespace dlcore::DLCORE_ISA_NS
