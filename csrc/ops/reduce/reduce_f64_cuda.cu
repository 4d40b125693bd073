// The float64 instantiations of the CUDA reductions (own file: the double-usage gate, see cuda/cuda_kernel.cuh).
#include "ops/reduce/reduce_kernels.cuh"

namespace dlcore::reduce_cuda {

void reduce_launch_f64(ReduceOp op, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I) {
  reduce_launch<double>(op, out, in, O, R, I);
}

}  // namespace dlcore::reduce_cuda
