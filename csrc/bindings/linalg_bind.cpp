// Bindings of the dense factorizations (csrc/ops/linalg/factor.h) behind dlcore.linalg. Raw kernels on batches of
// matrices [..., m, n] (float32/float64); argument checking, broadcasting and autograd are in
// python/dlcore/linalg.py. The kernels run on the CPU; a cuda tensor is copied to the host, factored there and the
// results copied back (there are no CUDA factorization kernels). The batch runs in parallel (parallel_for).
#include <algorithm>

#include "bindings/binder.h"
#include "bindings/py_tensor.h"
#include "core/parallel.h"
#include "ops/linalg/factor.h"

namespace dlcore {

namespace {

using linalg::Mat;

struct Batched {
  Tensor t;        // contiguous host copy [B, r, c] (owned: the kernels overwrite it)
  IntList batch;   // the leading dims
  int64_t B, r, c;
};

Batched host_copy(const Tensor& a, const char* op, DType work) {
  DLCORE_CHECK(a.dtype() == DType::Float32 || a.dtype() == DType::Float64, TypeError, op,
               ": expected a float32 or float64 tensor, got ", dtype_name(a.dtype()));
  DLCORE_CHECK(a.dim() >= 2, ValueError, op, ": expected a tensor with 2 or more dimensions, got shape ",
               a.shape().str());
  Batched b;
  b.batch = IntList(a.shape().data(), a.dim() - 2);
  b.B = numel_of(b.batch);
  b.r = a.size(a.dim() - 2);
  b.c = a.size(a.dim() - 1);
  Tensor h = a.to(Device()).to(work).clone();
  b.t = h.view(IntList{b.B, b.r, b.c});
  return b;
}

IntList with(const IntList& batch, std::initializer_list<int64_t> tail) {
  IntList s = batch;
  for (int64_t v : tail) s.push_back(v);
  return s;
}

// t (host, [B, ...]) reshaped to shape, cast to dtype, on device.
Tensor finish(const Tensor& t, const IntList& shape, DType dtype, Device device) {
  return t.view(shape).to(dtype).to(device);
}

template <class F>
void for_batch(int64_t B, const F& fn) {
  parallel_for(0, B, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) fn(b);
  });
}

template <class F>
void dispatch(DType d, const F& fn) {
  if (d == DType::Float32) fn(float());
  else fn(double());
}

py::tuple lu_factor_py(py::handle a_h) {
  const Tensor& a = as_tensor(a_h, "linalg.lu_factor", "A");
  Batched A = host_copy(a, "linalg.lu_factor", a.dtype());
  const int64_t m = A.r, n = A.c, k = std::min(m, n);
  Tensor piv = Tensor::empty(IntList{A.B, k}, DType::Int32);
  Tensor info = Tensor::empty(IntList{A.B}, DType::Int32);
  dispatch(a.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = A.t.data<T>();
    int32_t* pv = piv.data<int32_t>();
    int32_t* in = info.data<int32_t>();
    for_batch(A.B, [&](int64_t b) {
      in[b] = (int32_t)linalg::getrf<T>(m, n, Mat<T>{p + b * m * n, n, 1}, pv + b * k);
    });
  });
  return py::make_tuple(wrap(finish(A.t, with(A.batch, {m, n}), a.dtype(), a.device())),
                        wrap(finish(piv, with(A.batch, {k}), DType::Int32, a.device())),
                        wrap(finish(info, A.batch, DType::Int32, a.device())));
}

// X with LU X = B (adjoint: A^T X = B); LU [..., n, n], pivots [..., n] (int32, 1-based), B [..., n, k], one batch.
py::object lu_solve_py(py::handle lu_h, py::handle piv_h, py::handle b_h, bool adjoint) {
  const Tensor& lu = as_tensor(lu_h, "linalg.lu_solve", "LU");
  const Tensor& pv = as_tensor(piv_h, "linalg.lu_solve", "pivots");
  const Tensor& b = as_tensor(b_h, "linalg.lu_solve", "B");
  DLCORE_CHECK(lu.dtype() == b.dtype(), TypeError, "linalg.lu_solve: LU and B must have the same dtype, got ",
               dtype_name(lu.dtype()), " and ", dtype_name(b.dtype()));
  DLCORE_CHECK(pv.dtype() == DType::Int32 || pv.dtype() == DType::Int64, TypeError,
               "linalg.lu_solve: pivots must be an integer tensor, got ", dtype_name(pv.dtype()));
  Batched L = host_copy(lu, "linalg.lu_solve", lu.dtype());
  Batched X = host_copy(b, "linalg.lu_solve", b.dtype());
  const int64_t n = L.r, k = X.c;
  DLCORE_CHECK(L.r == L.c && X.r == n && X.B == L.B && pv.numel() == L.B * n, ValueError,
               "linalg.lu_solve: incompatible shapes LU ", lu.shape().str(), ", pivots ", pv.shape().str(), ", B ",
               b.shape().str());
  Tensor piv = pv.to(Device()).to(DType::Int32).contiguous();
  const int32_t* pp = piv.data<int32_t>();
  for (int64_t i = 0; i < L.B * n; ++i)
    DLCORE_CHECK(pp[i] >= 1 && pp[i] <= n, ValueError, "linalg.lu_solve: pivot ", pp[i], " out of range [1, ", n,
                 "]");
  dispatch(b.dtype(), [&](auto z) {
    using T = decltype(z);
    T* lp = L.t.data<T>();
    T* xp = X.t.data<T>();
    for_batch(L.B, [&](int64_t i) {
      linalg::getrs<T>(n, k, Mat<T>{lp + i * n * n, n, 1}, pp + i * n, adjoint, Mat<T>{xp + i * n * k, k, 1});
    });
  });
  return wrap(finish(X.t, b.shape(), b.dtype(), b.device()));
}

// X with A X = B for triangular A [..., n, n], B [..., n, k] (one batch).
py::object trsm_py(py::handle a_h, py::handle b_h, bool upper, bool unit) {
  const Tensor& a = as_tensor(a_h, "linalg.solve_triangular", "A");
  const Tensor& b = as_tensor(b_h, "linalg.solve_triangular", "B");
  DLCORE_CHECK(a.dtype() == b.dtype(), TypeError, "linalg.solve_triangular: A and B must have the same dtype, got ",
               dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  Batched A = host_copy(a, "linalg.solve_triangular", a.dtype());
  Batched X = host_copy(b, "linalg.solve_triangular", b.dtype());
  const int64_t n = A.r, k = X.c;
  DLCORE_CHECK(A.r == A.c && X.r == n && X.B == A.B, ValueError, "linalg.solve_triangular: incompatible shapes ",
               a.shape().str(), " and ", b.shape().str());
  dispatch(b.dtype(), [&](auto z) {
    using T = decltype(z);
    T* ap = A.t.data<T>();
    T* xp = X.t.data<T>();
    for_batch(A.B, [&](int64_t i) {
      linalg::trsm_left<T>(n, k, Mat<T>{ap + i * n * n, n, 1}, upper, unit, Mat<T>{xp + i * n * k, k, 1});
    });
  });
  return wrap(finish(X.t, b.shape(), b.dtype(), b.device()));
}

// (L, info): L L^T = A from A's lower triangle (upper: U^T U = A from the upper triangle, U returned).
py::tuple cholesky_py(py::handle a_h, bool upper) {
  const Tensor& a0 = as_tensor(a_h, "linalg.cholesky", "A");
  Tensor a = upper && a0.dim() >= 2 ? a0.transpose(a0.dim() - 2, a0.dim() - 1) : a0;
  Batched A = host_copy(a, "linalg.cholesky", a.dtype());
  const int64_t n = A.r;
  DLCORE_CHECK(A.r == A.c, ValueError, "linalg.cholesky: A must be batches of square matrices, but they are ", A.r,
               " by ", A.c, " matrices");
  Tensor info = Tensor::empty(IntList{A.B}, DType::Int32);
  dispatch(a.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = A.t.data<T>();
    int32_t* in = info.data<int32_t>();
    for_batch(A.B, [&](int64_t b) { in[b] = (int32_t)linalg::potrf<T>(n, Mat<T>{p + b * n * n, n, 1}); });
  });
  Tensor L = A.t;
  if (upper) L = L.transpose(1, 2).contiguous();
  return py::make_tuple(wrap(finish(L, with(A.batch, {n, n}), a.dtype(), a.device())),
                        wrap(finish(info, A.batch, DType::Int32, a.device())));
}

// (Q, R) for mode "reduced", "complete" or "r" (Q empty).
py::tuple qr_py(py::handle a_h, const std::string& mode) {
  const Tensor& a = as_tensor(a_h, "linalg.qr", "A");
  DLCORE_CHECK(mode == "reduced" || mode == "complete" || mode == "r", ValueError,
               "qr received unrecognized mode '", mode,
               "' but expected one of 'reduced' (default), 'r', or 'complete'");
  Batched A = host_copy(a, "linalg.qr", a.dtype());
  const int64_t m = A.r, n = A.c, k = std::min(m, n);
  const int64_t qc = mode == "complete" ? m : k, rr = mode == "complete" ? m : k;
  const bool want_q = mode != "r";
  Tensor Q = Tensor::empty(IntList{A.B, want_q ? m : 0, want_q ? qc : 0}, a.dtype());
  Tensor R = Tensor::empty(IntList{A.B, rr, n}, a.dtype());
  dispatch(a.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = A.t.data<T>();
    T* qp = Q.data<T>();
    T* rp = R.data<T>();
    for_batch(A.B, [&](int64_t b) {
      Mat<T> q{qp + b * m * qc, qc, 1}, r{rp + b * rr * n, n, 1};
      linalg::qr<T>(m, n, Mat<T>{p + b * m * n, n, 1}, want_q ? &q : nullptr, qc, &r, rr);
    });
  });
  return py::make_tuple(wrap(finish(Q, with(A.batch, {want_q ? m : 0, want_q ? qc : 0}), a.dtype(), a.device())),
                        wrap(finish(R, with(A.batch, {rr, n}), a.dtype(), a.device())));
}

py::object householder_product_py(py::handle a_h, py::handle tau_h) {
  const Tensor& a = as_tensor(a_h, "linalg.householder_product", "A");
  const Tensor& tau = as_tensor(tau_h, "linalg.householder_product", "tau");
  DLCORE_CHECK(a.dtype() == tau.dtype(), TypeError,
               "linalg.householder_product: A and tau must have the same dtype, got ", dtype_name(a.dtype()), " and ",
               dtype_name(tau.dtype()));
  Batched A = host_copy(a, "linalg.householder_product", a.dtype());
  const int64_t m = A.r, n = A.c;
  DLCORE_CHECK(tau.dim() >= 1 && m >= n, ValueError,
               "torch.linalg.householder_product: input.shape[-2] must be greater than or equal to input.shape[-1]");
  const int64_t k = tau.size(tau.dim() - 1);
  DLCORE_CHECK(k <= n && tau.numel() == A.B * k, ValueError,
               "torch.linalg.householder_product: input.shape[-1] must be greater than or equal to tau.shape[-1]");
  Tensor t = tau.to(Device()).contiguous();
  Tensor Q = Tensor::empty(IntList{A.B, m, n}, a.dtype());
  dispatch(a.dtype(), [&](auto z) {
    using T = decltype(z);
    T* p = A.t.data<T>();
    const T* tp = t.data<T>();
    T* qp = Q.data<T>();
    for_batch(A.B, [&](int64_t b) {
      linalg::householder_product<T>(m, n, k, Mat<T>{p + b * m * n, n, 1}, tp + b * k, Mat<T>{qp + b * m * n, n, 1});
    });
  });
  return wrap(finish(Q, a.shape(), a.dtype(), a.device()));
}

// (w, V): eigenvalues ascending, eigenvectors as columns (V empty unless compute_v); the lower (or upper) triangle.
py::tuple eigh_py(py::handle a_h, bool upper, bool compute_v) {
  const Tensor& a0 = as_tensor(a_h, "linalg.eigh", "A");
  Tensor a = upper && a0.dim() >= 2 ? a0.transpose(a0.dim() - 2, a0.dim() - 1) : a0;
  Batched A = host_copy(a, "linalg.eigh", DType::Float64);
  const int64_t n = A.r;
  DLCORE_CHECK(A.r == A.c, ValueError, "linalg.eigh: A must be batches of square matrices, but they are ", A.r,
               " by ", A.c, " matrices");
  Tensor w = Tensor::empty(IntList{A.B, n}, DType::Float64);
  Tensor V = Tensor::empty(IntList{A.B, compute_v ? n : 0, compute_v ? n : 0}, DType::Float64);
  double* p = A.t.data<double>();
  double* wp = w.data<double>();
  double* vp = V.data<double>();
  for_batch(A.B, [&](int64_t b) {
    Mat<double> v{vp + b * n * n, n, 1};
    linalg::syev(n, Mat<double>{p + b * n * n, n, 1}, wp + b * n, compute_v ? &v : nullptr);
  });
  return py::make_tuple(wrap(finish(w, with(A.batch, {n}), a.dtype(), a.device())),
                        wrap(finish(V, with(A.batch, {compute_v ? n : 0, compute_v ? n : 0}), a.dtype(), a.device())));
}

// (U, S, Vh): S descending; U [..., m, m or k], Vh [..., n or k, n] (empty unless compute_uv).
py::tuple svd_py(py::handle a_h, bool full_matrices, bool compute_uv) {
  const Tensor& a = as_tensor(a_h, "linalg.svd", "A");
  Batched A = host_copy(a, "linalg.svd", DType::Float64);
  const int64_t m = A.r, n = A.c, k = std::min(m, n);
  const int64_t uc = full_matrices ? m : k, vr = full_matrices ? n : k;
  Tensor S = Tensor::empty(IntList{A.B, k}, DType::Float64);
  IntList us{A.B, compute_uv ? m : 0, compute_uv ? uc : 0}, vs{A.B, compute_uv ? vr : 0, compute_uv ? n : 0};
  Tensor U = Tensor::empty(us, DType::Float64), Vh = Tensor::empty(vs, DType::Float64);
  double* p = A.t.data<double>();
  double* sp = S.data<double>();
  double* up = U.data<double>();
  double* vp = Vh.data<double>();
  for_batch(A.B, [&](int64_t b) {
    Mat<double> u{up + b * m * uc, uc, 1}, vh{vp + b * vr * n, n, 1};
    linalg::gesvd(m, n, Mat<double>{p + b * m * n, n, 1}, sp + b * k, compute_uv ? &u : nullptr, uc,
                  compute_uv ? &vh : nullptr, vr);
  });
  return py::make_tuple(wrap(finish(U, with(A.batch, {us[1], us[2]}), a.dtype(), a.device())),
                        wrap(finish(S, with(A.batch, {k}), a.dtype(), a.device())),
                        wrap(finish(Vh, with(A.batch, {vs[1], vs[2]}), a.dtype(), a.device())));
}

void bind_linalg(py::module_& m) {
  m.def("_linalg_lu_factor", &lu_factor_py, py::arg("A"), "(LU, pivots int32 1-based, info int32): P A = L U.");
  m.def("_linalg_lu_solve", &lu_solve_py, py::arg("LU"), py::arg("pivots"), py::arg("B"), py::arg("adjoint") = false);
  m.def("_linalg_trsm", &trsm_py, py::arg("A"), py::arg("B"), py::arg("upper"), py::arg("unitriangular") = false);
  m.def("_linalg_cholesky", &cholesky_py, py::arg("A"), py::arg("upper") = false);
  m.def("_linalg_qr", &qr_py, py::arg("A"), py::arg("mode") = "reduced");
  m.def("_linalg_householder_product", &householder_product_py, py::arg("A"), py::arg("tau"));
  m.def("_linalg_eigh", &eigh_py, py::arg("A"), py::arg("upper") = false, py::arg("compute_v") = true);
  m.def("_linalg_svd", &svd_py, py::arg("A"), py::arg("full_matrices") = false, py::arg("compute_uv") = true);
}

}  // namespace

static BindingRegistrar reg("linalg", &bind_linalg);

}  // namespace dlcore
