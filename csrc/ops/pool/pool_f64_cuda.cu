// The float64 instantiations of the CUDA pooling kernels (own file: the double-usage gate, see cuda/cuda_kernel.cuh).
#include "ops/pool/pool_kernels.cuh"

namespace dlcore::pool_cuda {

void max_fwd_f64(const Tensor& out, const Tensor& indices, const Tensor& in, const Pool2dParams& p) {
  max_fwd_launch<double>(out, indices, in, p);
}
void max_bwd_f64(const Tensor& gin, const Tensor& gout, const Tensor& in, const Pool2dParams& p) {
  max_bwd_launch<double>(gin, gout, in, p);
}
void avg_fwd_f64(const Tensor& out, const Tensor& in, const Pool2dParams& p) { avg_fwd_launch<double>(out, in, p); }
void avg_bwd_f64(const Tensor& gin, const Tensor& gout, const Pool2dParams& p) { avg_bwd_launch<double>(gin, gout, p); }
void adaptive_fwd_f64(const Tensor& out, const Tensor& in) { adaptive_fwd_launch<double>(out, in); }
void adaptive_bwd_f64(const Tensor& gin, const Tensor& gout) { adaptive_bwd_launch<double>(gin, gout); }

}  // namespace dlcore::pool_cuda
