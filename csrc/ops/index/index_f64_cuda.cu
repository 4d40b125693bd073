// The float64 scatter-add of the CUDA index kernels (own file: the double-usage gate).
#include "ops/index/index_kernels.cuh"

namespace dlcore::index_cuda {

void scatter_add_launch_f64(const ew_cuda::Iter& it) { scatter_add_launch<double>(it); }

}  // namespace dlcore::index_cuda
