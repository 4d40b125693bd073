// The float64 instantiations of the CUDA norm kernels (own file: the double-usage gate).
#include "ops/norm/norm_kernels.cuh"

namespace dlcore::norm_cuda {

NormCudaFns norm_cuda_fns_f64() { return norm_cuda_fns<double>(); }

}  // namespace dlcore::norm_cuda
