// The float64 instantiations of the CUDA CTC loss (own file: the double-usage gate).
#include "ops/softmax_loss/ctc_kernels.cuh"

namespace dlcore::ctc_cuda {

CtcCudaFns ctc_cuda_fns_f64() { return ctc_cuda_fns<double>(); }

}  // namespace dlcore::ctc_cuda
