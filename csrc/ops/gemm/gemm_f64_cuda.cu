// The float64 CUDA GEMM (own file: the double-usage gate, see cuda/cuda_kernel.cuh): the SIMT kernel of
// gemm_kernels.cuh with a 64x64x16 block tile, 4x4 outputs per thread, scalar loads (no 16-byte path: a plain
// tiled kernel; float64 is for references and gradient checks, not for speed).
#include "ops/gemm/gemm_cuda_entry.cuh"

namespace dlcore {

namespace gemm_cuda_detail {

void launch_simt_f64(const GemmParams<double, double>& p, cuda::Stream s) {
  auto* k = &gemm_simt_kernel<double, double, 64, 64, 16, 1, 1>;
  DLCORE_LAUNCH(k, gemm_grid(p.M, p.N, p.batch, 64, 64), 256, 0, s)(p);
}

}  // namespace gemm_cuda_detail

template void gemm_cuda<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t, const double*,
                                int64_t, int64_t, double, double*, int64_t, int64_t, const GemmEpilogue<double>&,
                                int64_t, int64_t, int64_t, int64_t, cuda::Stream);

}  // namespace dlcore
