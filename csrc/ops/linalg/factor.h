// Dense matrix factorizations on the CPU (LAPACK's getrf, getrs, trsm, potrf, geqrf+orgqr, syev, gesvd), the
// kernels behind dlcore.linalg. One matrix per call; the bindings (csrc/bindings/linalg_bind.cpp) loop over the
// batch with parallel_for and run them on host copies for the cuda device.
//
// Layout: a matrix view Mat{p, rs, cs} holds element (i, j) at p[i * rs + j * cs]; a transposed operand is the
// same view with swapped strides, so no kernel ever copies to transpose. Outputs are written in place.
//
// Large problems (n > 64) go through the project's GEMM (ops/gemm/gemm.h) in blocks of NB = 64 columns:
// LU and Cholesky are right-looking (panel, triangular solve of the block row/column, GEMM trailing update);
// the triangular solve is left-looking by blocks (GEMM update of the block of right-hand sides, then the
// unblocked solve against the diagonal block).
#pragma once
#include <cstdint>

namespace dlcore::linalg {

template <class T>
struct Mat {
  T* p;
  int64_t rs, cs;
  T& operator()(int64_t i, int64_t j) const { return p[i * rs + j * cs]; }
  Mat sub(int64_t i, int64_t j) const { return Mat{p + i * rs + j * cs, rs, cs}; }
  Mat t() const { return Mat{p, cs, rs}; }
};

// P A = L U for the m x n matrix A (overwritten by L below the diagonal (unit diagonal implied) and U on and
// above it). piv[j] (1-based, k = min(m, n) entries) is the row swapped with row j at step j. Returns 0, or the
// 1-based index of the first zero pivot (the factorization still completes, as LAPACK's getrf).
template <class T>
int64_t getrf(int64_t m, int64_t n, Mat<T> A, int32_t* piv);

// op(A) X = B for the n x n triangular A (upper or lower, unit diagonal if unit): B (n x nrhs) is overwritten by X.
template <class T>
void trsm_left(int64_t n, int64_t nrhs, Mat<T> A, bool upper, bool unit, Mat<T> B);

// A X = B with A = P L U from getrf (adjoint: A^T X = B). B is n x nrhs, overwritten.
template <class T>
void getrs(int64_t n, int64_t nrhs, Mat<T> LU, const int32_t* piv, bool adjoint, Mat<T> B);

// A = L L^T from the lower triangle of the n x n A: L overwrites the lower triangle, the strict upper triangle
// is zeroed. Returns 0, or k when the leading minor of order k is not positive-definite.
template <class T>
int64_t potrf(int64_t n, Mat<T> A);

// Householder QR of the m x n A (LAPACK's conventions: H_j = I - tau_j v_j v_j^T, v_j(j) = 1, R's diagonal
// = -sign(a_jj) * ||a_j||). R (k x n or m x n, complete) and Q (m x qc, qc = k or m) are written when non-null.
template <class T>
void qr(int64_t m, int64_t n, Mat<T> A, Mat<T>* Q, int64_t qc, Mat<T>* R, int64_t rrows);

// Q (m x qc) = H_0 H_1 ... H_{k-1} [I; 0] from reflectors stored below the diagonal of V (m x k) and tau.
template <class T>
void householder_product(int64_t m, int64_t qc, int64_t k, Mat<T> V, const T* tau, Mat<T> Q);

// Symmetric eigendecomposition of the n x n A (only the lower triangle is read) by cyclic Jacobi in double:
// w ascending; V (n x n, columns = eigenvectors) when non-null.
void syev(int64_t n, Mat<double> A, double* w, Mat<double>* V);

// SVD of the m x n A by one-sided Jacobi in double: S descending (k = min(m, n)); U m x uc (uc = k or m),
// Vh vr x n (vr = k or n) when non-null.
void gesvd(int64_t m, int64_t n, Mat<double> A, double* S, Mat<double>* U, int64_t uc, Mat<double>* Vh, int64_t vr);

}  // namespace dlcore::linalg
