// Winograd F(2x2, 3x3) convolution: forward, input gradient, weight gradient (formulas in conv_winograd.h).
// The transforms are plain C++ (they move ~4x the input's bytes, a few % of the time); the work is the 16 GEMMs
// per chunk of samples, done by sgemm/dgemm.
#include "ops/conv/conv_winograd.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/gemm/gemm.h"

namespace dlcore {

namespace {

template <class T>
T* wino_scratch(std::size_t n, int slot) {
  thread_local std::vector<T> bufs[3];
  auto& b = bufs[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}

struct Tiling {
  int64_t TH, TW, TT;  // tiles per sample: rows, columns, total
  int64_t nb;          // samples per chunk
  explicit Tiling(const ConvParams& p) {
    TH = (p.P + 1) / 2;
    TW = (p.Q + 1) / 2;
    TT = TH * TW;
    nb = std::max<int64_t>(1, (256 + TT - 1) / TT);
  }
};

// U[xi][k][c] = (G g G^T)[xi] for w [K][C][3][3].
template <class T>
void weight_transform(const T* w, T* U, const ConvParams& p) {
  const int64_t K = p.K, C = p.C;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      const T* g = w + (k * C + c) * 9;
      T t[4][3];  // G g
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[j];
        t[1][j] = T(0.5) * (g[j] + g[3 + j] + g[6 + j]);
        t[2][j] = T(0.5) * (g[j] - g[3 + j] + g[6 + j]);
        t[3][j] = g[6 + j];
      }
      for (int i = 0; i < 4; ++i) {  // (G g) G^T
        T u[4] = {t[i][0], T(0.5) * (t[i][0] + t[i][1] + t[i][2]), T(0.5) * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j) U[((i * 4 + j) * K + k) * C + c] = u[j];
      }
    }
}

// V[xi][c][t] = (B^T d B)[xi] for the 4x4 input tiles of samples [n0, n0 + nb); ld = nb * TT.
template <class T>
void input_transform(const T* x, T* V, const ConvParams& p, const Tiling& tl, int64_t n0, int64_t nb) {
  const int64_t C = p.C, H = p.H, W = p.W, ld = nb * tl.TT;
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T* xc = x + ((n0 + n) * C + c) * H * W;
      for (int64_t ty = 0; ty < tl.TH; ++ty) {
        const int64_t ih0 = 2 * ty - p.pt;
        for (int64_t tx = 0; tx < tl.TW; ++tx) {
          const int64_t iw0 = 2 * tx - p.pl;
          T d[4][4];
          const bool inside = ih0 >= 0 && ih0 + 4 <= H && iw0 >= 0 && iw0 + 4 <= W;
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) {
              int64_t ih = ih0 + i, iw = iw0 + j;
              d[i][j] = (inside || (ih >= 0 && ih < H && iw >= 0 && iw < W)) ? xc[ih * W + iw] : T(0);
            }
          T t[4][4];  // B^T d
          for (int j = 0; j < 4; ++j) {
            t[0][j] = d[0][j] - d[2][j];
            t[1][j] = d[1][j] + d[2][j];
            t[2][j] = d[2][j] - d[1][j];
            t[3][j] = d[1][j] - d[3][j];
          }
          const int64_t col = (n * tl.TH + ty) * tl.TW + tx;
          T* v = V + c * ld + col;
          const int64_t xs = C * ld;  // stride between xi planes
          for (int i = 0; i < 4; ++i) {  // (B^T d) B
            v[(i * 4 + 0) * xs] = t[i][0] - t[i][2];
            v[(i * 4 + 1) * xs] = t[i][1] + t[i][2];
            v[(i * 4 + 2) * xs] = t[i][2] - t[i][1];
            v[(i * 4 + 3) * xs] = t[i][1] - t[i][3];
          }
        }
      }
    }
}

// y[n][k] tiles = A^T M A (+ b[k]) for samples [n0, n0 + nb); M[xi][k][t].
template <class T>
void output_transform(const T* M, T* y, const T* b, const ConvParams& p, const Tiling& tl, int64_t n0, int64_t nb) {
  const int64_t K = p.K, P = p.P, Q = p.Q, ld = nb * tl.TT, xs = K * ld;
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t k = 0; k < K; ++k) {
      T* yk = y + ((n0 + n) * K + k) * P * Q;
      const T bias = b ? b[k] : T(0);
      for (int64_t ty = 0; ty < tl.TH; ++ty)
        for (int64_t tx = 0; tx < tl.TW; ++tx) {
          const T* m = M + k * ld + (n * tl.TH + ty) * tl.TW + tx;
          T t[2][4];  // A^T m
          for (int j = 0; j < 4; ++j) {
            T m0 = m[(0 + j) * xs], m1 = m[(4 + j) * xs], m2 = m[(8 + j) * xs], m3 = m[(12 + j) * xs];
            t[0][j] = m0 + m1 + m2;
            t[1][j] = m1 - m2 - m3;
          }
          const int64_t oh = 2 * ty, ow = 2 * tx;
          for (int i = 0; i < 2 && oh + i < P; ++i) {
            T o0 = t[i][0] + t[i][1] + t[i][2] + bias, o1 = t[i][1] - t[i][2] - t[i][3] + bias;
            yk[(oh + i) * Q + ow] = o0;
            if (ow + 1 < Q) yk[(oh + i) * Q + ow + 1] = o1;
          }
        }
    }
}

// Mg[xi][k][t] = (A gy_tile A^T)[xi] (gy tile 2x2, zeros outside P x Q).
template <class T>
void grad_output_transform(const T* gy, T* Mg, const ConvParams& p, const Tiling& tl, int64_t n0, int64_t nb) {
  const int64_t K = p.K, P = p.P, Q = p.Q, ld = nb * tl.TT, xs = K * ld;
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t k = 0; k < K; ++k) {
      const T* gk = gy + ((n0 + n) * K + k) * P * Q;
      for (int64_t ty = 0; ty < tl.TH; ++ty)
        for (int64_t tx = 0; tx < tl.TW; ++tx) {
          const int64_t oh = 2 * ty, ow = 2 * tx;
          T g[2][2];
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) g[i][j] = (oh + i < P && ow + j < Q) ? gk[(oh + i) * Q + ow + j] : T(0);
          T t[4][2] = {{g[0][0], g[0][1]},
                       {g[0][0] + g[1][0], g[0][1] + g[1][1]},
                       {g[0][0] - g[1][0], g[0][1] - g[1][1]},
                       {-g[1][0], -g[1][1]}};  // A g
          T* m = Mg + k * ld + (n * tl.TH + ty) * tl.TW + tx;
          for (int i = 0; i < 4; ++i) {  // (A g) A^T
            m[(i * 4 + 0) * xs] = t[i][0];
            m[(i * 4 + 1) * xs] = t[i][0] + t[i][1];
            m[(i * 4 + 2) * xs] = t[i][0] - t[i][1];
            m[(i * 4 + 3) * xs] = -t[i][1];
          }
        }
    }
}

// gx[n][c] += B Vg B^T over the overlapping 4x4 input tiles (gx zeroed by the caller).
template <class T>
void input_grad_transform(const T* Vg, T* gx, const ConvParams& p, const Tiling& tl, int64_t n0, int64_t nb) {
  const int64_t C = p.C, H = p.H, W = p.W, ld = nb * tl.TT, xs = C * ld;
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t c = 0; c < C; ++c) {
      T* gc = gx + ((n0 + n) * C + c) * H * W;
      for (int64_t ty = 0; ty < tl.TH; ++ty)
        for (int64_t tx = 0; tx < tl.TW; ++tx) {
          const T* v = Vg + c * ld + (n * tl.TH + ty) * tl.TW + tx;
          T X[4][4];
          for (int i = 0; i < 16; ++i) X[i / 4][i % 4] = v[i * xs];
          T t[4][4];  // B X: rows X0, X1 - X2 + X3, -X0 + X1 + X2, -X3
          for (int j = 0; j < 4; ++j) {
            t[0][j] = X[0][j];
            t[1][j] = X[1][j] - X[2][j] + X[3][j];
            t[2][j] = -X[0][j] + X[1][j] + X[2][j];
            t[3][j] = -X[3][j];
          }
          T d[4][4];  // (B X) B^T
          for (int i = 0; i < 4; ++i) {
            d[i][0] = t[i][0];
            d[i][1] = t[i][1] - t[i][2] + t[i][3];
            d[i][2] = -t[i][0] + t[i][1] + t[i][2];
            d[i][3] = -t[i][3];
          }
          const int64_t ih0 = 2 * ty - p.pt, iw0 = 2 * tx - p.pl;
          for (int i = 0; i < 4; ++i) {
            int64_t ih = ih0 + i;
            if (ih < 0 || ih >= H) continue;
            for (int j = 0; j < 4; ++j) {
              int64_t iw = iw0 + j;
              if (iw >= 0 && iw < W) gc[ih * W + iw] += d[i][j];
            }
          }
        }
    }
}

template <class F>
void over_samples(int64_t N, const F& fn) {
  int nt = get_num_threads();
  if (nt > 1 && N >= nt && !in_parallel_region()) {
    parallel_run(nt, [&](int tid, int nthr) { fn(tid, N * tid / nthr, N * (tid + 1) / nthr); });
  } else {
    fn(0, 0, N);
  }
}

}  // namespace

template <class T>
void conv_winograd_forward(T* y, const T* x, const T* w, const T* b, const ConvParams& p) {
  const Tiling tl(p);
  const int64_t K = p.K, C = p.C;
  std::vector<T> U((std::size_t)16 * K * C);
  weight_transform(w, U.data(), p);
  over_samples(p.N, [&](int, int64_t s0, int64_t s1) {
    const int64_t nbmax = std::min(tl.nb, std::max<int64_t>(s1 - s0, 1));
    T* V = wino_scratch<T>((std::size_t)16 * C * nbmax * tl.TT, 0);
    T* M = wino_scratch<T>((std::size_t)16 * K * nbmax * tl.TT, 1);
    for (int64_t n0 = s0; n0 < s1; n0 += nbmax) {
      const int64_t nb = std::min(nbmax, s1 - n0), ld = nb * tl.TT;
      input_transform(x, V, p, tl, n0, nb);
      for (int xi = 0; xi < 16; ++xi)
        gemm<T>(K, ld, C, T(1), U.data() + xi * K * C, C, 1, V + xi * C * ld, ld, 1, T(0), M + xi * K * ld, ld, 1);
      output_transform(M, y, b, p, tl, n0, nb);
    }
  });
}

template <class T>
void conv_winograd_backward_input(T* gx, const T* gy, const T* w, const ConvParams& p) {
  const Tiling tl(p);
  const int64_t K = p.K, C = p.C;
  std::vector<T> U((std::size_t)16 * K * C);
  weight_transform(w, U.data(), p);
  over_samples(p.N, [&](int, int64_t s0, int64_t s1) {
    const int64_t nbmax = std::min(tl.nb, std::max<int64_t>(s1 - s0, 1));
    T* Mg = wino_scratch<T>((std::size_t)16 * K * nbmax * tl.TT, 1);
    T* Vg = wino_scratch<T>((std::size_t)16 * C * nbmax * tl.TT, 0);
    for (int64_t n0 = s0; n0 < s1; n0 += nbmax) {
      const int64_t nb = std::min(nbmax, s1 - n0), ld = nb * tl.TT;
      grad_output_transform(gy, Mg, p, tl, n0, nb);
      for (int xi = 0; xi < 16; ++xi)  // Vg[xi] (C x T) = U[xi]^T (C x K) @ Mg[xi] (K x T)
        gemm<T>(C, ld, K, T(1), U.data() + xi * K * C, 1, C, Mg + xi * K * ld, ld, 1, T(0), Vg + xi * C * ld, ld, 1);
      std::fill(gx + n0 * C * p.H * p.W, gx + (n0 + nb) * C * p.H * p.W, T(0));
      input_grad_transform(Vg, gx, p, tl, n0, nb);
    }
  });
}

template <class T>
void conv_winograd_backward_weight(T* gw, const T* gy, const T* x, const ConvParams& p) {
  const Tiling tl(p);
  const int64_t K = p.K, C = p.C, usize = 16 * K * C;
  int nt = get_num_threads();
  const bool split = nt > 1 && p.N >= nt && !in_parallel_region();
  std::vector<T> dU((std::size_t)(split ? nt : 1) * usize, T(0));
  over_samples(p.N, [&](int tid, int64_t s0, int64_t s1) {
    T* acc = dU.data() + (std::size_t)tid * usize;
    const int64_t nbmax = std::min(tl.nb, std::max<int64_t>(s1 - s0, 1));
    T* V = wino_scratch<T>((std::size_t)16 * C * nbmax * tl.TT, 0);
    T* Mg = wino_scratch<T>((std::size_t)16 * K * nbmax * tl.TT, 1);
    for (int64_t n0 = s0; n0 < s1; n0 += nbmax) {
      const int64_t nb = std::min(nbmax, s1 - n0), ld = nb * tl.TT;
      input_transform(x, V, p, tl, n0, nb);
      grad_output_transform(gy, Mg, p, tl, n0, nb);
      for (int xi = 0; xi < 16; ++xi)  // dU[xi] (K x C) += Mg[xi] (K x T) @ V[xi]^T (T x C)
        gemm<T>(K, C, ld, T(1), Mg + xi * K * ld, ld, 1, V + xi * C * ld, 1, ld, T(1), acc + xi * K * C, C, 1);
    }
  });
  for (int t = 1; split && t < nt; ++t) {
    const T* src = dU.data() + (std::size_t)t * usize;
    for (int64_t i = 0; i < usize; ++i) dU[i] += src[i];
  }
  // gw = G^T dU G per (k, c); G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      T X[4][4];
      for (int i = 0; i < 16; ++i) X[i / 4][i % 4] = dU[(i * K + k) * C + c];
      T t[3][4];
      for (int j = 0; j < 4; ++j) {
        t[0][j] = X[0][j] + T(0.5) * (X[1][j] + X[2][j]);
        t[1][j] = T(0.5) * (X[1][j] - X[2][j]);
        t[2][j] = T(0.5) * (X[1][j] + X[2][j]) + X[3][j];
      }
      T* g = gw + (k * C + c) * 9;
      for (int i = 0; i < 3; ++i) {
        g[i * 3 + 0] = t[i][0] + T(0.5) * (t[i][1] + t[i][2]);
        g[i * 3 + 1] = T(0.5) * (t[i][1] - t[i][2]);
        g[i * 3 + 2] = T(0.5) * (t[i][1] + t[i][2]) + t[i][3];
      }
    }
}

template void conv_winograd_forward<float>(float*, const float*, const float*, const float*, const ConvParams&);
template void conv_winograd_forward<double>(double*, const double*, const double*, const double*, const ConvParams&);
template void conv_winograd_backward_input<float>(float*, const float*, const float*, const ConvParams&);
template void conv_winograd_backward_input<double>(double*, const double*, const double*, const ConvParams&);
template void conv_winograd_backward_weight<float>(float*, const float*, const float*, const ConvParams&);
template void conv_winograd_backward_weight<double>(double*, const double*, const double*, const ConvParams&);

}  // namespace dlcore
