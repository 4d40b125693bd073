// The float64 instantiation of the CUDA embedding backward (own file: the double-usage gate).
#include "ops/embedding/embedding_kernels.cuh"

namespace dlcore::embedding_cuda {

void embedding_bwd_launch_f64(const Tensor& gw, const Tensor& g, const Tensor& idx, int64_t padding_idx, bool freq) {
  embedding_bwd_launch<double>(gw, g, idx, padding_idx, freq);
}

}  // namespace dlcore::embedding_cuda
