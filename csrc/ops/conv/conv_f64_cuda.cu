// The float64 instantiations of the CUDA conv2d kernels (own file: the double-usage gate, see cuda/cuda_kernel.cuh).
#include "ops/conv/conv_kernels.cuh"

namespace dlcore::conv_cuda {

void forward_f64(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p) {
  forward_launch<double>(y, x, w, b, p);
}
void backward_input_f64(const Tensor& gx, const Tensor& gy, const Tensor& w, const ConvParams& p) {
  backward_input_launch<double>(gx, gy, w, p);
}
void backward_weight_f64(const Tensor* gw, const Tensor* gb, const Tensor& gy, const Tensor& x, const ConvParams& p) {
  backward_weight_launch<double>(gw, gb, gy, x, p);
}

}  // namespace dlcore::conv_cuda
