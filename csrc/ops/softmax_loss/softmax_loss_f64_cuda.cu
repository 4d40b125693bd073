// The float64 instantiations of the CUDA softmax and losses (own file: the double-usage gate).
#include "ops/softmax_loss/softmax_loss_kernels.cuh"

namespace dlcore::sm_cuda {

SmCudaFns sm_cuda_fns_f64() { return sm_cuda_fns<double>(); }

}  // namespace dlcore::sm_cuda
