// The body of gemm_cuda<T> (gemm_cuda.h), included by gemm_cuda.cu (float, Half, BFloat16) and gemm_f64_cuda.cu
// (double), each instantiating its types: parameter packing, the load-mode choice per operand, the kernel choice.
#pragma once
#include <cstdint>
#include <type_traits>

#include "ops/gemm/gemm_cuda.h"
#include "ops/gemm/gemm_kernels.cuh"

namespace dlcore {

namespace gemm_cuda_detail {

// LoadMode of an operand seen as R x K (element (r, k) at X[r * s_r + k * s_k], batch stride s_b): 16-byte
// vectors need contiguity along the vector, the other stride and the batch stride multiples of the vector, and
// a 16-byte aligned base.
template <class T>
int load_mode(const T* X, int64_t s_r, int64_t s_k, int64_t s_b, int64_t batch) {
  constexpr int64_t v = 16 / (int64_t)sizeof(T);
  if (reinterpret_cast<uintptr_t>(X) % 16 != 0 || (batch > 1 && s_b % v != 0)) return kScalar;
  if (s_k == 1 && s_r % v == 0) return kVecK;
  if (s_r == 1 && s_k % v == 0) return kVecMN;
  return kScalar;
}

}  // namespace gemm_cuda_detail

template <class T>
void gemm_cuda(int64_t M, int64_t N, int64_t K, typename GemmCudaScalar<T>::type alpha, const T* A, int64_t rs_a,
               int64_t cs_a, const T* B, int64_t rs_b, int64_t cs_b, typename GemmCudaScalar<T>::type beta, T* C,
               int64_t rs_c, int64_t cs_c, const GemmEpilogue<T>& ep, int64_t batch, int64_t sa, int64_t sb,
               int64_t sc, cuda::Stream s) {
  using S = typename GemmCudaScalar<T>::type;
  using namespace gemm_cuda_detail;
  if (M <= 0 || N <= 0 || batch <= 0) return;
  if (K < 0) K = 0;
  GemmParams<T, S> p{M, N, K, batch, alpha, beta, A, rs_a, cs_a, sa, B, rs_b, cs_b, sb, C, rs_c, cs_c, sc,
                     ep.bias, ep.bias ? (int)ep.bias_kind : (int)BiasKind::None, ep.relu ? 1 : 0,
                     kScalar, kScalar, 0};
  if constexpr (std::is_same_v<T, double>) {
    launch_simt_f64(p, s);  // plain SIMT kernel, scalar loads
  } else {
    p.a_mode = load_mode(A, rs_a, cs_a, sa, batch);
    p.b_mode = load_mode(B, cs_b, rs_b, sb, batch);  // B seen as N x K
    if constexpr (std::is_same_v<T, float>) {
      GemmCudaVariant v = gemm_cuda_variant();
      if (v == GemmCudaVariant::Auto) v = gemm_cuda_pick(M, N, K, batch);
      if (v == GemmCudaVariant::Tf32) return launch_mma<float>(p, s);
      p.c_vec = cs_c == 1 && rs_c % 4 == 0 && (batch == 1 || sc % 4 == 0) &&
                reinterpret_cast<uintptr_t>(C) % 16 == 0;
      launch_simt_f32(p, v == GemmCudaVariant::Simt128 ? SimtTile::Big : SimtTile::Small, s);
    } else {
      launch_mma<T>(p, s);
    }
  }
}

}  // namespace dlcore
