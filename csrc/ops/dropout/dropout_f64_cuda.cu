// The float64 instantiation of the CUDA dropout (own file: the double-usage gate).
#include "ops/dropout/dropout_kernels.cuh"

namespace dlcore::dropout_cuda {

void dropout_launch_f64(const Tensor& out, const Tensor& in, const DropoutArgs& a) {
  dropout_launch<double>(out, in, a, a.p < 1 ? 1.0 / (1.0 - a.p) : 0.0);
}

}  // namespace dlcore::dropout_cuda
