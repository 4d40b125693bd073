// GEMM front end: sgemm/dgemm pick the implementation of the active ISA (gemm_avx512.cpp, gemm_avx2.cpp or the
// portable one here), the thread-local packing workspace and the portable scalar microkernel. The tensor-level
// batched entry is in gemm_batched.cpp.
#include <algorithm>
#include <cstdlib>
#include <new>

#include "core/parallel.h"
#include "ops/gemm/gemm.h"
#include "ops/gemm/gemm_driver.h"

namespace dlcore {
namespace gemm_detail {

// ------------------------------------------------------------------------------------------------ workspace
namespace {
struct Workspace {
  void* p[5] = {};
  size_t cap[5] = {};
  ~Workspace() {
    for (void* q : p) std::free(q);
  }
};
thread_local Workspace t_ws;
}  // namespace

void* workspace(int slot, size_t bytes) {
  Workspace& w = t_ws;
  if (bytes > w.cap[slot]) {
    std::free(w.p[slot]);
    size_t cap = std::max<size_t>((bytes + 4095) / 4096 * 4096, 64 * 1024);
    w.p[slot] = std::aligned_alloc(64, cap);
    if (!w.p[slot]) {
      w.cap[slot] = 0;
      throw std::bad_alloc();
    }
    w.cap[slot] = cap;
  }
  return w.p[slot];
}

// ------------------------------------------------------------------------------------------------ scalar kernel
namespace {

// Portable microkernel: plain C++ (the compiler may vectorise it with the baseline ISA). The block-size table:
//   float : MR = 4, NR = 8   KC = 256  MC = 128  NC = 2048
//   double: MR = 4, NR = 4   KC = 256  MC = 128  NC = 2048
// NR == VL, so a tile is always one "vector" of NR columns; N edges compute NR columns and store n.
template <class T_, int MR_, int NR_>
struct ScalarKernel {
  using T = T_;
  static constexpr int MR = MR_, NR = NR_, VL = NR_;
  static constexpr int KC = 256, MC = 128, NC = 2048;
  static constexpr double kMacsPerCycle = 4.0, kPackCost = 1.0;
  static constexpr bool kHalfTail = false;
  static constexpr bool kDotEdge = false;
  static constexpr int kDotEdgeCols = 0;

  template <int M, int NV, bool PA, bool HT = false>
  static void tile(int64_t k, const T* a, int64_t a_rs, int64_t a_cs, const T* b, int64_t b_rs, T* c, int64_t rs_c,
                   int n, const TileStore<T>& st) {
    T acc[M][NR] = {};
    if constexpr (PA) {
      a_rs = 1;
      a_cs = MR;
    }
    for (int64_t p = 0; p < k; ++p) {
      const T* bp = b + p * b_rs;
      for (int i = 0; i < M; ++i) {
        T av = a[i * a_rs + p * a_cs];
        for (int j = 0; j < NR; ++j) acc[i][j] += av * bp[j];
      }
    }
    for (int i = 0; i < M; ++i) {
      T* ci = c + i * rs_c;
      for (int j = 0; j < n; ++j) {
        T v = st.alpha * acc[i][j];
        if (st.beta != T(0)) v += st.beta * ci[j];
        if (st.bias_kind == BiasKind::PerRow) v += st.bias[i];
        else if (st.bias_kind == BiasKind::PerCol) v += st.bias[j];
        if (st.relu && !(v > T(0))) v = (v != v) ? v : T(0);
        ci[j] = v;
      }
    }
  }

  static void pack_lines(const T* src, int64_t ls, int lines, int64_t k, T* dst, int W) {
    for (int r = 0; r < lines; ++r)
      for (int64_t p = 0; p < k; ++p) dst[p * W + r] = src[r * ls + p];
  }
  static void copy_rows(const T* src, int64_t ss, int width, int64_t k, T* dst, int W) {
    for (int64_t p = 0; p < k; ++p) {
      for (int j = 0; j < width; ++j) dst[p * W + j] = src[p * ss + j];
      for (int j = width; j < W; ++j) dst[p * W + j] = T(0);
    }
  }
};

using ScalarS = ScalarKernel<float, 4, 8>;
using ScalarD = ScalarKernel<double, 4, 4>;

}  // namespace

void sgemm_scalar(const GemmCall<float>& c) { Driver<ScalarS>::run(c); }
void dgemm_scalar(const GemmCall<double>& c) { Driver<ScalarD>::run(c); }
GemmBlocking gemm_blocking_scalar(bool dbl) {
  return dbl ? Driver<ScalarD>::blocking() : Driver<ScalarS>::blocking();
}

// ------------------------------------------------------------------------------------------------ dispatch
template <class T>
void gemm_call(const GemmCall<T>& c) {
  if (c.M <= 0 || c.N <= 0) return;
  Isa isa = cpu_isa();
  if (c.opt.isa >= 0) isa = (Isa)std::min(c.opt.isa, (int)cpu_isa_supported());
  if constexpr (sizeof(T) == 4) {
    if (isa == Isa::AVX512) return sgemm_avx512(c);
    if (isa == Isa::AVX2) return sgemm_avx2(c);
    return sgemm_scalar(c);
  } else {
    if (isa == Isa::AVX512) return dgemm_avx512(c);
    if (isa == Isa::AVX2) return dgemm_avx2(c);
    return dgemm_scalar(c);
  }
}
template void gemm_call<float>(const GemmCall<float>&);
template void gemm_call<double>(const GemmCall<double>&);

GemmBlocking gemm_blocking(Isa isa, bool dbl) {
  if (isa == Isa::AVX512) return gemm_blocking_avx512(dbl);
  if (isa == Isa::AVX2) return gemm_blocking_avx2(dbl);
  return gemm_blocking_scalar(dbl);
}

}  // namespace gemm_detail

// ------------------------------------------------------------------------------------------------ public API
void sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t rs_a, int64_t cs_a, const float* B,
           int64_t rs_b, int64_t cs_b, float beta, float* C, int64_t rs_c, int64_t cs_c,
           const GemmEpilogue<float>& ep) {
  gemm_detail::gemm_call<float>({M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c, ep, {}});
}

void dgemm(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t rs_a, int64_t cs_a,
           const double* B, int64_t rs_b, int64_t cs_b, double beta, double* C, int64_t rs_c, int64_t cs_c,
           const GemmEpilogue<double>& ep) {
  gemm_detail::gemm_call<double>({M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c, ep, {}});
}

namespace {
template <class T>
void gemm_rows_call(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rs_a, int64_t cs_a,
                    const T* const* b_rows, int64_t b_col0, T beta, T* C, int64_t rs_c, int64_t cs_c,
                    const GemmEpilogue<T>& ep) {
  gemm_detail::GemmCall<T> c{M, N, K, alpha, A, rs_a, cs_a, nullptr, 0, 1, beta, C, rs_c, cs_c, ep, {}};
  c.b_rows = b_rows;
  c.b_col0 = b_col0;
  gemm_detail::gemm_call<T>(c);
}
}  // namespace

void sgemm_rows(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t rs_a, int64_t cs_a,
                const float* const* b_rows, int64_t b_col0, float beta, float* C, int64_t rs_c, int64_t cs_c,
                const GemmEpilogue<float>& ep) {
  gemm_rows_call<float>(M, N, K, alpha, A, rs_a, cs_a, b_rows, b_col0, beta, C, rs_c, cs_c, ep);
}

void dgemm_rows(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t rs_a, int64_t cs_a,
                const double* const* b_rows, int64_t b_col0, double beta, double* C, int64_t rs_c, int64_t cs_c,
                const GemmEpilogue<double>& ep) {
  gemm_rows_call<double>(M, N, K, alpha, A, rs_a, cs_a, b_rows, b_col0, beta, C, rs_c, cs_c, ep);
}

}  // namespace dlcore
