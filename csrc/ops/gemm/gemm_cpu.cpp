// Portable reference GEMM (temporary: replaced by the packed BLIS-style kernels of the GEMM issue) and the
// tensor-level batched entry registered for the CPU.
#include "ops/gemm/gemm.h"

#include <algorithm>

#include "core/parallel.h"

namespace dlcore {

namespace {

template <class T>
void gemm_ref(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t rs_a, int64_t cs_a, const T* B,
              int64_t rs_b, int64_t cs_b, T beta, T* C, int64_t rs_c, int64_t cs_c, const GemmEpilogue<T>& ep) {
  parallel_for(0, M, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, N * K / 64 + 1)), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      for (int64_t n = 0; n < N; ++n) {
        T acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += A[m * rs_a + k * cs_a] * B[k * rs_b + n * cs_b];
        T& c = C[m * rs_c + n * cs_c];
        T v = alpha * acc + (beta == T(0) ? T(0) : beta * c);
        if (ep.bias_kind == BiasKind::PerRow) v += ep.bias[m];
        else if (ep.bias_kind == BiasKind::PerCol) v += ep.bias[n];
        if (ep.relu && !(v > T(0))) v = v != v ? v : T(0);
        c = v;
      }
    }
  });
}

template <class T>
void batched_cpu(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor* bias, const GemmArgs& args) {
  int64_t B = out.size(0), M = out.size(1), N = out.size(2), K = a.size(2);
  GemmEpilogue<T> ep;
  ep.bias_kind = args.bias_kind;
  ep.relu = args.relu;
  Tensor bias_c;
  if (bias && args.bias_kind != BiasKind::None) {
    bias_c = bias->contiguous();
    ep.bias = bias_c.data<T>();
  }
  for (int64_t i = 0; i < B; ++i) {
    const T* pa = a.data<T>() + i * a.stride(0);
    const T* pb = b.data<T>() + i * b.stride(0);
    T* pc = out.data<T>() + i * out.stride(0);
    gemm<T>(M, N, K, (T)args.alpha, pa, a.stride(1), a.stride(2), pb, b.stride(1), b.stride(2), (T)args.beta, pc,
            out.stride(1), out.stride(2), ep);
  }
}

void batched_gemm_cpu(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor* bias, const GemmArgs& args) {
  dispatch_float(out.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    batched_cpu<T>(out, a, b, bias, args);
  });
}

KernelRegistrar reg_batched(batched_gemm_op, DeviceType::CPU, &batched_gemm_cpu, "cpu");

}  // namespace

void sgemm(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t rs_a, int64_t cs_a, const float* B,
           int64_t rs_b, int64_t cs_b, float beta, float* C, int64_t rs_c, int64_t cs_c,
           const GemmEpilogue<float>& ep) {
  gemm_ref<float>(M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c, ep);
}

void dgemm(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t rs_a, int64_t cs_a,
           const double* B, int64_t rs_b, int64_t cs_b, double beta, double* C, int64_t rs_c, int64_t cs_c,
           const GemmEpilogue<double>& ep) {
  gemm_ref<double>(M, N, K, alpha, A, rs_a, cs_a, B, rs_b, cs_b, beta, C, rs_c, cs_c, ep);
}

}  // namespace dlcore
