// CUDA GEMM: the raw entry gemm_cuda<T> (gemm_cuda.h), the kernel choice, the float32 SIMT launches and the
// registration of batched_gemm_op (matmul, linear, addmm) for DeviceType::CUDA. Kernels: gemm_kernels.cuh (SIMT),
// gemm_mma_kernels.cuh (tensor cores, launched from gemm_mma_cuda.cu); float64 in gemm_f64_cuda.cu.
#include <atomic>
#include <cstdint>

#include "ops/gemm/gemm_cuda.h"
#include "ops/gemm/gemm_kernels.cuh"

namespace dlcore {

namespace gemm_cuda_detail {

namespace {
std::atomic<bool> g_allow_tf32{false};
std::atomic<int> g_variant{(int)GemmCudaVariant::Auto};
}  // namespace

void launch_simt_f32(const GemmParams<float, float>& p, SimtTile tile, cuda::Stream s) {
  if (tile == SimtTile::Big) {
    auto* k = &gemm_simt_kernel<float, float, 128, 128, 8, 2, 2>;
    DLCORE_LAUNCH(k, gemm_grid(p.M, p.N, p.batch, 128, 128), 256, 0, s)(p);
  } else {
    auto* k = &gemm_simt_kernel<float, float, 64, 64, 16, 1, 1>;
    DLCORE_LAUNCH(k, gemm_grid(p.M, p.N, p.batch, 64, 64), 256, 0, s)(p);
  }
}

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

using namespace gemm_cuda_detail;

void gemm_cuda_set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool gemm_cuda_allow_tf32() { return g_allow_tf32.load(); }
void gemm_cuda_set_variant(GemmCudaVariant v) { g_variant.store((int)v); }
GemmCudaVariant gemm_cuda_variant() { return (GemmCudaVariant)g_variant.load(); }

// The float32 heuristic:
//   - TF32 allowed -> the tensor-core kernel (128x128 tiles);
//   - else the 128x128x8 SIMT tile (8x8 per thread: the most FMAs per shared load) when both M and N reach a full
//     tile and there are at least 96 such tiles (about one wave on an H100's 132 SMs at ~1 block per SM, so no SM
//     idles for lack of tiles);
//   - else (small or skinny problems: 64 x 4096, 128 x 1000, batches of small matrices) the 64x64x16 tile, 4x
//     the blocks for the same output, so more SMs get work.
GemmCudaVariant gemm_cuda_pick(int64_t M, int64_t N, int64_t K, int64_t batch) {
  (void)K;
  if (gemm_cuda_allow_tf32()) return GemmCudaVariant::Tf32;
  int64_t tiles128 = ((M + 127) / 128) * ((N + 127) / 128) * (batch < 1 ? 1 : batch);
  if (M >= 128 && N >= 128 && tiles128 >= 96) return GemmCudaVariant::Simt128;
  return GemmCudaVariant::Simt64;
}

template <class T>
void gemm_cuda(int64_t M, int64_t N, int64_t K, typename GemmCudaScalar<T>::type alpha, const T* A, int64_t rs_a,
               int64_t cs_a, const T* B, int64_t rs_b, int64_t cs_b, typename GemmCudaScalar<T>::type beta, T* C,
               int64_t rs_c, int64_t cs_c, const GemmEpilogue<T>& ep, int64_t batch, int64_t sa, int64_t sb,
               int64_t sc, cuda::Stream s) {
  using S = typename GemmCudaScalar<T>::type;
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

template void gemm_cuda<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t, const float*,
                               int64_t, int64_t, float, float*, int64_t, int64_t, const GemmEpilogue<float>&, int64_t,
                               int64_t, int64_t, int64_t, cuda::Stream);
template void gemm_cuda<Half>(int64_t, int64_t, int64_t, float, const Half*, int64_t, int64_t, const Half*, int64_t,
                              int64_t, float, Half*, int64_t, int64_t, const GemmEpilogue<Half>&, int64_t, int64_t,
                              int64_t, int64_t, cuda::Stream);
template void gemm_cuda<BFloat16>(int64_t, int64_t, int64_t, float, const BFloat16*, int64_t, int64_t,
                                  const BFloat16*, int64_t, int64_t, float, BFloat16*, int64_t, int64_t,
                                  const GemmEpilogue<BFloat16>&, int64_t, int64_t, int64_t, int64_t, cuda::Stream);

// ------------------------------------------------------------------------------------------------ registration
namespace {

template <class T>
void batched(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor* bias, const GemmArgs& args) {
  using S = typename GemmCudaScalar<T>::type;
  GemmEpilogue<T> ep;
  ep.relu = args.relu;
  Tensor bias_c;
  if (bias && args.bias_kind != BiasKind::None) {
    bias_c = bias->contiguous();
    ep.bias = bias_c.data<T>();
    ep.bias_kind = args.bias_kind;
  }
  gemm_cuda<T>(out.size(1), out.size(2), a.size(2), (S)args.alpha, a.data<T>(), a.stride(1), a.stride(2),
               b.data<T>(), b.stride(1), b.stride(2), (S)args.beta, out.data<T>(), out.stride(1), out.stride(2), ep,
               out.size(0), a.stride(0), b.stride(0), out.stride(0), cuda::current_stream());
}

// Same contract as the CPU registration (gemm_batched.cpp); float16/bfloat16 run on tensor cores with float32
// accumulation (the CPU has no 16-bit GEMM).
void batched_gemm_cuda(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor* bias,
                       const GemmArgs& args) {
  switch (out.dtype()) {
    case DType::Float32: return batched<float>(out, a, b, bias, args);
    case DType::Float64: return batched<double>(out, a, b, bias, args);
    case DType::Float16: return batched<Half>(out, a, b, bias, args);
    case DType::BFloat16: return batched<BFloat16>(out, a, b, bias, args);
    default: break;
  }
  DLCORE_THROW(TypeError, "matmul: expected a float32, float64, float16 or bfloat16 tensor on cuda, got ",
               dtype_name(out.dtype()));
}

KernelRegistrar reg_batched(batched_gemm_op, DeviceType::CUDA, &batched_gemm_cuda, "cuda");

}  // namespace

}  // namespace dlcore
