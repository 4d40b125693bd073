// The batch-norm loops, compiled once per ISA (the including file defines DLCORE_ISA_NS and DLCORE_VLEN). Plain
// loops written so the compiler vectorises them for the file's ISA: sums use 8 independent float64 partial sums
// (SLP-vectorised), the normalisation is one fused multiply-add per element. Per channel the data is read from
// memory once; the second and third passes over a channel's N x S slice mostly hit L2.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/norm/norm_tables.h"

namespace dlcore::DLCORE_ISA_NS {

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
void affine_row(T* DLCORE_RESTRICT y, const T* DLCORE_RESTRICT x, int64_t n, T scale, T shift) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale + shift;
}

template <class T>
void affine2_row(T* DLCORE_RESTRICT y, const T* DLCORE_RESTRICT g, const T* DLCORE_RESTRICT x, int64_t n, T a, T b,
                 T c) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * g[i] + b * x[i] + c;
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
  // y = x * scale_c + shift_c
  if (S == 1) {
    std::vector<T> sc(C), sh(C);
    for (int64_t c = 0; c < C; ++c) {
      sc[c] = save_invstd[c] * (w ? w[c] : T(1));
      sh[c] = (b ? b[c] : T(0)) - save_mean[c] * sc[c];
    }
    parallel_for(0, N, std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1)), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t c = 0; c < C; ++c) y[n * C + c] = x[n * C + c] * sc[c] + sh[c];
    });
    return;
  }
  parallel_for(0, N * C, std::max<int64_t>(1, 16384 / S), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t c = r % C;
      T sc = save_invstd[c] * (w ? w[c] : T(1));
      T sh = (b ? b[c] : T(0)) - save_mean[c] * sc;
      affine_row(y + r * S, x + r * S, S, sc, sh);
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
  // gx = A g + B x + K per channel.
  std::vector<T> A(C), B(C), K(C);
  for (int64_t c = 0; c < C; ++c) {
    double wi = (w ? (double)w[c] : 1.0) * (double)invstd[c];
    if (training) {
      double dw = sgx[c] * (double)invstd[c];
      double b = -wi * (double)invstd[c] * dw / cnt;
      A[c] = (T)wi;
      B[c] = (T)b;
      K[c] = (T)(-wi * sg[c] / cnt - b * (double)mean[c]);
    } else {
      A[c] = (T)wi;
      B[c] = T(0);
      K[c] = T(0);
    }
  }
  if (S == 1) {
    parallel_for(0, N, std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1)), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t c = 0; c < C; ++c) gx[n * C + c] = A[c] * g[n * C + c] + B[c] * x[n * C + c] + K[c];
    });
    return;
  }
  parallel_for(0, N * C, std::max<int64_t>(1, 16384 / S), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t c = r % C;
      affine2_row(gx + r * S, g + r * S, x + r * S, S, A[c], B[c], K[c]);
    }
  });
}

void fill_batch_norm_table(BatchNormTable& t) {
  t.fwd[0] = &bn_fwd<float>;
  t.fwd[1] = &bn_fwd<double>;
  t.bwd[0] = &bn_bwd<float>;
  t.bwd[1] = &bn_bwd<double>;
}

}  // namespace dlcore::DLCORE_ISA_NS
