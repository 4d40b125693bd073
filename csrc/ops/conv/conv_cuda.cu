// CUDA conv2d: dtype dispatch and registration for DeviceType::CUDA (kernels in conv_kernels.cuh). The front-end
// (conv_ops.cpp) has already checked shapes, dtypes and devices and made every operand contiguous.
#include "ops/conv/conv_kernels.cuh"

namespace dlcore::conv_cuda {

namespace {

void forward_cuda(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor* b, const ConvParams& p) {
  if (y.dtype() == DType::Float64) return forward_f64(y, x, w, b, p);
  DLCORE_CHECK(y.dtype() == DType::Float32, TypeError, "conv2d: not supported for dtype ", dtype_name(y.dtype()),
               " on cuda");
  forward_launch<float>(y, x, w, b, p);
}

void backward_input_cuda(const Tensor& gx, const Tensor& gy, const Tensor& w, const ConvParams& p) {
  if (gx.dtype() == DType::Float64) return backward_input_f64(gx, gy, w, p);
  DLCORE_CHECK(gx.dtype() == DType::Float32, TypeError, "conv2d_backward_input: not supported for dtype ",
               dtype_name(gx.dtype()), " on cuda");
  backward_input_launch<float>(gx, gy, w, p);
}

void backward_weight_cuda(const Tensor* gw, const Tensor* gb, const Tensor& gy, const Tensor& x,
                          const ConvParams& p) {
  if (gy.dtype() == DType::Float64) return backward_weight_f64(gw, gb, gy, x, p);
  DLCORE_CHECK(gy.dtype() == DType::Float32, TypeError, "conv2d_backward_weight: not supported for dtype ",
               dtype_name(gy.dtype()), " on cuda");
  backward_weight_launch<float>(gw, gb, gy, x, p);
}

KernelRegistrar reg_fwd(conv2d_forward_op, DeviceType::CUDA, &forward_cuda, "cuda");
KernelRegistrar reg_bwd_in(conv2d_backward_input_op, DeviceType::CUDA, &backward_input_cuda, "cuda");
KernelRegistrar reg_bwd_w(conv2d_backward_weight_op, DeviceType::CUDA, &backward_weight_cuda, "cuda");

}  // namespace

}  // namespace dlcore::conv_cuda
