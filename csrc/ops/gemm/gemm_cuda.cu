// CUDA GEMM: the raw entry gemm_cuda<T> (gemm_cuda.h), the kernel choice, the float32 SIMT launches and the
// registration of batched_gemm_op (matmul, linear, addmm) for DeviceType::CUDA. Kernels: gemm_kernels.cuh (SIMT),
// gemm_mma_kernels.cuh (tensor cores, launched from gemm_mma_cuda.cu); float64 in gemm_f64_cuda.cu.
#include <atomic>
#include <cstdint>

#include "ops/gemm/gemm_cuda.h"
#include "ops/gemm/gemm_cuda_entry.cuh"

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
