// CPU kernels of the dense factorizations (see factor.h for the contracts).
#include "ops/linalg/factor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "ops/gemm/gemm.h"

namespace dlcore::linalg {

namespace {
constexpr int64_t NB = 64;  // block size of the GEMM-blocked LU, Cholesky and triangular solve

template <class T>
void swap_rows(Mat<T> A, int64_t r0, int64_t r1, int64_t ncols) {
  for (int64_t c = 0; c < ncols; ++c) std::swap(A(r0, c), A(r1, c));
}

// C -= A B with A (M x K), B (K x N) through the project's GEMM.
template <class T>
void gemm_sub(int64_t M, int64_t N, int64_t K, Mat<T> A, Mat<T> B, Mat<T> C) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  gemm<T>(M, N, K, T(-1), A.p, A.rs, A.cs, B.p, B.rs, B.cs, T(1), C.p, C.rs, C.cs);
}
}  // namespace

// ------------------------------------------------------------------------------------------------ LU (getrf)
template <class T>
int64_t getrf(int64_t m, int64_t n, Mat<T> A, int32_t* piv) {
  const int64_t k = std::min(m, n);
  int64_t info = 0;
  for (int64_t k0 = 0; k0 < k; k0 += NB) {
    const int64_t kb = std::min(NB, k - k0), k1 = k0 + kb;
    // Panel: columns [k0, k1), rows [k0, m), unblocked with partial pivoting (swaps move whole rows).
    for (int64_t j = k0; j < k1; ++j) {
      int64_t p = j;
      T amax = std::abs(A(j, j));
      for (int64_t i = j + 1; i < m; ++i) {
        T v = std::abs(A(i, j));
        if (v > amax || (amax != amax)) amax = v, p = i;
      }
      piv[j] = (int32_t)(p + 1);
      if (p != j) swap_rows(A, j, p, n);
      const T d = A(j, j);
      if (d != T(0)) {
        for (int64_t i = j + 1; i < m; ++i) A(i, j) /= d;
      } else if (!info) {
        info = j + 1;
      }
      for (int64_t i = j + 1; i < m; ++i) {
        const T l = A(i, j);
        if (l == T(0)) continue;
        T* ri = &A(i, 0);
        const T* rj = &A(j, 0);
        for (int64_t c = j + 1; c < k1; ++c) ri[c * A.cs] -= l * rj[c * A.cs];
      }
    }
    const int64_t nr = n - k1;
    if (nr <= 0) continue;
    // U12 = L11^{-1} A12 (unit lower).
    for (int64_t i = k0 + 1; i < k1; ++i)
      for (int64_t t = k0; t < i; ++t) {
        const T l = A(i, t);
        if (l == T(0)) continue;
        for (int64_t c = k1; c < n; ++c) A(i, c) -= l * A(t, c);
      }
    // A22 -= L21 U12.
    gemm_sub<T>(m - k1, nr, kb, A.sub(k1, k0), A.sub(k0, k1), A.sub(k1, k1));
  }
  return info;
}

// ------------------------------------------------------------------------------------------------ triangular solve
template <class T>
void trsm_left(int64_t n, int64_t nrhs, Mat<T> A, bool upper, bool unit, Mat<T> B) {
  if (n == 0 || nrhs == 0) return;
  auto solve_row = [&](int64_t i, int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const T a = A(i, t);
      if (a == T(0)) continue;
      for (int64_t c = 0; c < nrhs; ++c) B(i, c) -= a * B(t, c);
    }
    if (!unit) {
      const T d = A(i, i);
      for (int64_t c = 0; c < nrhs; ++c) B(i, c) /= d;
    }
  };
  if (!upper) {
    for (int64_t i0 = 0; i0 < n; i0 += NB) {
      const int64_t i1 = std::min(n, i0 + NB);
      gemm_sub<T>(i1 - i0, nrhs, i0, A.sub(i0, 0), B, B.sub(i0, 0));
      for (int64_t i = i0; i < i1; ++i) solve_row(i, i0, i);
    }
  } else {
    for (int64_t i1 = n; i1 > 0; i1 -= NB) {
      const int64_t i0 = std::max<int64_t>(0, i1 - NB);
      gemm_sub<T>(i1 - i0, nrhs, n - i1, A.sub(i0, i1), B.sub(i1, 0), B.sub(i0, 0));
      for (int64_t i = i1 - 1; i >= i0; --i) solve_row(i, i + 1, i1);
    }
  }
}

template <class T>
void getrs(int64_t n, int64_t nrhs, Mat<T> LU, const int32_t* piv, bool adjoint, Mat<T> B) {
  if (!adjoint) {
    for (int64_t j = 0; j < n; ++j)
      if (piv[j] - 1 != j) swap_rows(B, j, piv[j] - 1, nrhs);
    trsm_left<T>(n, nrhs, LU, false, true, B);
    trsm_left<T>(n, nrhs, LU, true, false, B);
  } else {
    trsm_left<T>(n, nrhs, LU.t(), false, false, B);
    trsm_left<T>(n, nrhs, LU.t(), true, true, B);
    for (int64_t j = n - 1; j >= 0; --j)
      if (piv[j] - 1 != j) swap_rows(B, j, piv[j] - 1, nrhs);
  }
}

// ------------------------------------------------------------------------------------------------ Cholesky
template <class T>
int64_t potrf(int64_t n, Mat<T> A) {
  int64_t info = 0;
  for (int64_t k0 = 0; k0 < n && !info; k0 += NB) {
    const int64_t kb = std::min(NB, n - k0), k1 = k0 + kb;
    for (int64_t j = k0; j < k1; ++j) {
      T d = A(j, j);
      for (int64_t t = k0; t < j; ++t) d -= A(j, t) * A(j, t);
      if (!(d > T(0))) {
        info = j + 1;
        break;
      }
      d = std::sqrt(d);
      A(j, j) = d;
      for (int64_t i = j + 1; i < k1; ++i) {
        T s = A(i, j);
        for (int64_t t = k0; t < j; ++t) s -= A(i, t) * A(j, t);
        A(i, j) = s / d;
      }
    }
    if (info) break;
    // L21 = A21 L11^{-T}, row by row.
    for (int64_t r = k1; r < n; ++r)
      for (int64_t j = k0; j < k1; ++j) {
        T s = A(r, j);
        for (int64_t t = k0; t < j; ++t) s -= A(r, t) * A(j, t);
        A(r, j) = s / A(j, j);
      }
    // A22 -= L21 L21^T (the whole square; only its lower triangle is read later).
    gemm_sub<T>(n - k1, n - k1, kb, A.sub(k1, k0), A.sub(k1, k0).t(), A.sub(k1, k1));
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) A(i, j) = T(0);
  return info;
}

// ------------------------------------------------------------------------------------------------ QR
template <class T>
void householder_product(int64_t m, int64_t qc, int64_t k, Mat<T> V, const T* tau, Mat<T> Q) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < qc; ++c) Q(i, c) = (i == c) ? T(1) : T(0);
  std::vector<T> w((size_t)std::max<int64_t>(qc, 1));
  for (int64_t j = std::min(k, qc) - 1; j >= 0; --j) {
    const T tj = tau[j];
    if (tj == T(0)) continue;
    for (int64_t c = j; c < qc; ++c) w[c] = Q(j, c);
    for (int64_t i = j + 1; i < m; ++i) {
      const T v = V(i, j);
      if (v == T(0)) continue;
      for (int64_t c = j; c < qc; ++c) w[c] += v * Q(i, c);
    }
    for (int64_t c = j; c < qc; ++c) Q(j, c) -= tj * w[c];
    for (int64_t i = j + 1; i < m; ++i) {
      const T v = tj * V(i, j);
      if (v == T(0)) continue;
      for (int64_t c = j; c < qc; ++c) Q(i, c) -= v * w[c];
    }
  }
}

template <class T>
void qr(int64_t m, int64_t n, Mat<T> A, Mat<T>* Q, int64_t qc, Mat<T>* R, int64_t rrows) {
  const int64_t k = std::min(m, n);
  std::vector<T> tau((size_t)std::max<int64_t>(k, 1)), w((size_t)std::max<int64_t>(n, 1));
  for (int64_t j = 0; j < k; ++j) {
    const T alpha = A(j, j);
    T scale = 0, ssq = 1;  // ||x||, x = A(j+1:, j), without overflow
    for (int64_t i = j + 1; i < m; ++i) {
      T v = std::abs(A(i, j));
      if (v == T(0)) continue;
      if (scale < v) ssq = T(1) + ssq * (scale / v) * (scale / v), scale = v;
      else ssq += (v / scale) * (v / scale);
    }
    const T xnorm = scale * std::sqrt(ssq);
    if (xnorm == T(0)) {
      tau[j] = T(0);
      continue;
    }
    const T beta = -std::copysign(std::hypot(alpha, xnorm), alpha);
    tau[j] = (beta - alpha) / beta;
    const T s = T(1) / (alpha - beta);
    for (int64_t i = j + 1; i < m; ++i) A(i, j) *= s;
    A(j, j) = beta;
    // Apply H_j = I - tau v v^T (v(j) = 1) to the trailing columns.
    for (int64_t c = j + 1; c < n; ++c) w[c] = A(j, c);
    for (int64_t i = j + 1; i < m; ++i) {
      const T v = A(i, j);
      for (int64_t c = j + 1; c < n; ++c) w[c] += v * A(i, c);
    }
    for (int64_t c = j + 1; c < n; ++c) A(j, c) -= tau[j] * w[c];
    for (int64_t i = j + 1; i < m; ++i) {
      const T v = tau[j] * A(i, j);
      for (int64_t c = j + 1; c < n; ++c) A(i, c) -= v * w[c];
    }
  }
  if (R)
    for (int64_t i = 0; i < rrows; ++i)
      for (int64_t c = 0; c < n; ++c) (*R)(i, c) = (c >= i && i < k) ? A(i, c) : T(0);
  if (Q) householder_product<T>(m, qc, k, A, tau.data(), *Q);
}

// ------------------------------------------------------------------------------------------------ eigh (Jacobi)
void syev(int64_t n, Mat<double> A, double* w, Mat<double>* V) {
  std::vector<double> a((size_t)(n * n)), v((size_t)(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j <= i; ++j) a[i * n + j] = a[j * n + i] = A(i, j);
  for (int64_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  const double eps = std::numeric_limits<double>::epsilon();
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int64_t i = 0; i < n; ++i) {
      diag += a[i * n + i] * a[i * n + i];
      for (int64_t j = i + 1; j < n; ++j) off += a[i * n + j] * a[i * n + j];
    }
    if (!(off > eps * eps * 1e-2 * diag) || !(off > 1e-300)) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q], app = a[p * n + p], aqq = a[q * n + q];
        if (std::abs(apq) <= eps * 1e-3 * std::sqrt(std::abs(app * aqq)) || apq == 0.0) {
          a[p * n + q] = a[q * n + p] = 0.0;  // negligible: drop it (keeps the sweep count bounded)
          continue;
        }
        const double theta = (aqq - app) / (2.0 * apq);
        double t = 1.0 / (std::abs(theta) + std::sqrt(theta * theta + 1.0));
        if (theta < 0) t = -t;
        if (!std::isfinite(theta)) t = 0.5 / theta;  // huge theta: t ~ 1 / (2 theta)
        const double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (int64_t r = 0; r < n; ++r) {  // A <- A J (columns p, q)
          const double x = a[r * n + p], y = a[r * n + q];
          a[r * n + p] = c * x - s * y;
          a[r * n + q] = s * x + c * y;
        }
        for (int64_t r = 0; r < n; ++r) {  // A <- J^T A (rows p, q)
          const double x = a[p * n + r], y = a[q * n + r];
          a[p * n + r] = c * x - s * y;
          a[q * n + r] = s * x + c * y;
        }
        a[p * n + q] = a[q * n + p] = 0.0;
        for (int64_t r = 0; r < n; ++r) {  // V <- V J
          const double x = v[r * n + p], y = v[r * n + q];
          v[r * n + p] = c * x - s * y;
          v[r * n + q] = s * x + c * y;
        }
      }
  }
  std::vector<int64_t> order((size_t)n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return a[x * n + x] < a[y * n + y]; });
  for (int64_t i = 0; i < n; ++i) w[i] = a[order[i] * n + order[i]];
  if (V)
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < n; ++i) (*V)(r, i) = v[r * n + order[i]];
}

// ------------------------------------------------------------------------------------------------ SVD (Jacobi)
namespace {
// Fills the columns of U (m x c) not marked valid with unit vectors orthogonal to all the others.
void complete_basis(int64_t m, int64_t c, Mat<double> U, std::vector<char>& valid) {
  std::vector<double> x((size_t)m), best((size_t)m);
  int64_t cand = 0;
  for (int64_t j = 0; j < c; ++j) {
    if (valid[j]) continue;
    double best_n = -1;
    for (int64_t tries = 0; tries < m; ++tries, cand = (cand + 1) % m) {
      std::fill(x.begin(), x.end(), 0.0);
      x[cand] = 1.0;
      for (int pass = 0; pass < 2; ++pass)
        for (int64_t q = 0; q < c; ++q) {
          if (!valid[q]) continue;
          double d = 0;
          for (int64_t i = 0; i < m; ++i) d += U(i, q) * x[i];
          for (int64_t i = 0; i < m; ++i) x[i] -= d * U(i, q);
        }
      double nn = 0;
      for (double e : x) nn += e * e;
      if (nn > best_n) best_n = nn, best = x;
      if (nn > 0.1) {
        cand = (cand + 1) % m;
        break;
      }
    }
    const double inv = 1.0 / std::sqrt(best_n);
    for (int64_t i = 0; i < m; ++i) U(i, j) = best[i] * inv;
    valid[j] = 1;
  }
}

// m >= n.
void gesvd_tall(int64_t m, int64_t n, Mat<double> A, double* S, Mat<double>* U, int64_t uc, Mat<double>* Vh,
                int64_t vr) {
  std::vector<double> g((size_t)(n * m)), v((size_t)(n * n), 0.0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) g[j * m + i] = A(i, j);
  for (int64_t j = 0; j < n; ++j) v[j * n + j] = 1.0;
  const double eps = std::numeric_limits<double>::epsilon();
  for (int sweep = 0; sweep < 80; ++sweep) {
    bool rotated = false;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        double* gp = &g[p * m];
        double* gq = &g[q * m];
        double alpha = 0, beta = 0, gamma = 0;
        for (int64_t i = 0; i < m; ++i) alpha += gp[i] * gp[i], beta += gq[i] * gq[i], gamma += gp[i] * gq[i];
        if (gamma == 0.0 || std::abs(gamma) <= eps * std::sqrt(alpha * beta)) continue;
        rotated = true;
        const double zeta = (beta - alpha) / (2.0 * gamma);
        double t = 1.0 / (std::abs(zeta) + std::sqrt(1.0 + zeta * zeta));
        if (zeta < 0) t = -t;
        if (!std::isfinite(zeta)) t = 0.5 / zeta;
        const double c = 1.0 / std::sqrt(1.0 + t * t), s = c * t;
        for (int64_t i = 0; i < m; ++i) {
          const double x = gp[i], y = gq[i];
          gp[i] = c * x - s * y;
          gq[i] = s * x + c * y;
        }
        double* vp = &v[p * n];
        double* vq = &v[q * n];
        for (int64_t i = 0; i < n; ++i) {
          const double x = vp[i], y = vq[i];
          vp[i] = c * x - s * y;
          vq[i] = s * x + c * y;
        }
      }
    if (!rotated) break;
  }
  std::vector<double> sig((size_t)n);
  for (int64_t j = 0; j < n; ++j) {
    double s2 = 0;
    for (int64_t i = 0; i < m; ++i) s2 += g[j * m + i] * g[j * m + i];
    sig[j] = std::sqrt(s2);
  }
  std::vector<int64_t> order((size_t)n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return sig[x] > sig[y]; });
  for (int64_t j = 0; j < n; ++j) S[j] = sig[order[j]];
  if (U) {
    std::vector<char> valid((size_t)uc, 0);
    // A singular value at rounding level of the largest is numerically zero: its column of g is rounding noise,
    // not a direction (dividing by it gives a U that is not orthonormal); complete_basis supplies those columns.
    const double tiny = std::numeric_limits<double>::epsilon() * (n ? sig[order[0]] : 0.0) * (double)std::max(m, n);
    for (int64_t j = 0; j < n; ++j) {
      const double s = sig[order[j]];
      if (!(s > tiny) || !std::isfinite(1.0 / s)) continue;
      for (int64_t i = 0; i < m; ++i) (*U)(i, j) = g[order[j] * m + i] / s;
      valid[j] = 1;
    }
    complete_basis(m, uc, *U, valid);
  }
  if (Vh) {
    (void)vr;  // vr == n (k == n when m >= n)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < n; ++i) (*Vh)(j, i) = v[order[j] * n + i];
  }
}
}  // namespace

void gesvd(int64_t m, int64_t n, Mat<double> A, double* S, Mat<double>* U, int64_t uc, Mat<double>* Vh, int64_t vr) {
  if (m >= n) {
    gesvd_tall(m, n, A, S, U, uc, Vh, vr);
    return;
  }
  // A^T = U' S V'^T  =>  A = V' S U'^T: U = Vh'^T, Vh = U'^T.
  Mat<double> Ut, Vht;
  if (Vh) Ut = Vh->t();
  if (U) Vht = U->t();
  gesvd_tall(n, m, A.t(), S, Vh ? &Ut : nullptr, vr, U ? &Vht : nullptr, uc);
}

template int64_t getrf<float>(int64_t, int64_t, Mat<float>, int32_t*);
template int64_t getrf<double>(int64_t, int64_t, Mat<double>, int32_t*);
template void trsm_left<float>(int64_t, int64_t, Mat<float>, bool, bool, Mat<float>);
template void trsm_left<double>(int64_t, int64_t, Mat<double>, bool, bool, Mat<double>);
template void getrs<float>(int64_t, int64_t, Mat<float>, const int32_t*, bool, Mat<float>);
template void getrs<double>(int64_t, int64_t, Mat<double>, const int32_t*, bool, Mat<double>);
template int64_t potrf<float>(int64_t, Mat<float>);
template int64_t potrf<double>(int64_t, Mat<double>);
template void qr<float>(int64_t, int64_t, Mat<float>, Mat<float>*, int64_t, Mat<float>*, int64_t);
template void qr<double>(int64_t, int64_t, Mat<double>, Mat<double>*, int64_t, Mat<double>*, int64_t);
template void householder_product<float>(int64_t, int64_t, int64_t, Mat<float>, const float*, Mat<float>);
template void householder_product<double>(int64_t, int64_t, int64_t, Mat<double>, const double*, Mat<double>);

}  // namespace dlcore::linalg
