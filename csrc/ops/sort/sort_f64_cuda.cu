// The float64 instantiations of the CUDA sort and scans (own file: the double-usage gate).
#include "ops/sort/sort_kernels.cuh"

namespace dlcore::sort_cuda {

void sort_launch_f64(const Tensor& values, const Tensor& indices, const Tensor& x, bool descending) {
  sort_launch<double>(values, indices, x, descending);
}

void scan_launch_f64(const Tensor& out, const Tensor& x, bool prod, bool reverse) {
  scan_launch<double>(out, x, prod, reverse);
}

}  // namespace dlcore::sort_cuda
