// Launches of the tensor-core GEMM (gemm_mma_kernels.cuh): TF32 for float32, m16n8k16 for Half and BFloat16.
// The shared layout of each operand follows its global layout (kMNMajor when contiguous along m / n, else
// kKMajor), so four instantiations per type.
#include "ops/gemm/gemm_cuda.h"
#include "ops/gemm/gemm_mma_kernels.cuh"

namespace dlcore::gemm_cuda_detail {

namespace {

template <class T, int LA, int LB>
void launch_layout(const GemmParams<T, float>& p, cuda::Stream s) {
  auto* k = &gemm_mma_kernel<T, LA, LB>;
  const int smem = MmaConfig<T>::smem_bytes(LA, LB);  // 3 stages, up to 60 KiB: above the 48 KiB default
#if !defined(DLCORE_CUDA_EMULATED)
  // Per launch: the attribute belongs to the current device's context.
  cuda::check((int)cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, smem),
              "cudaFuncSetAttribute(gemm_mma_kernel, MaxDynamicSharedMemorySize)");
#endif
  DLCORE_LAUNCH(k, gemm_grid(p.M, p.N, p.batch, MmaConfig<T>::BM, MmaConfig<T>::BN), MmaConfig<T>::kThreads,
                (std::size_t)smem, s)(p);
}

}  // namespace

template <class T>
void launch_mma(const GemmParams<T, float>& p, cuda::Stream s) {
  const bool a_mn = p.a_mode == kVecMN, b_mn = p.b_mode == kVecMN;
  if (!a_mn && !b_mn) return launch_layout<T, kKMajor, kKMajor>(p, s);
  if (!a_mn && b_mn) return launch_layout<T, kKMajor, kMNMajor>(p, s);
  if (a_mn && !b_mn) return launch_layout<T, kMNMajor, kKMajor>(p, s);
  return launch_layout<T, kMNMajor, kMNMajor>(p, s);
}

template void launch_mma<float>(const GemmParams<float, float>&, cuda::Stream);
template void launch_mma<Half>(const GemmParams<Half, float>&, cuda::Stream);
template void launch_mma<BFloat16>(const GemmParams<BFloat16, float>&, cuda::Stream);

}  // namespace dlcore::gemm_cuda_detail
