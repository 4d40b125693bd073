// CUDA pooling: dtype dispatch and registration for DeviceType::CUDA (kernels in pool_kernels.cuh). The frontends
// (pool_ops.cpp) have checked the arguments, made the operands contiguous and viewed them as [P, H, W] planes.
#include "ops/pool/pool_kernels.cuh"

namespace dlcore::pool_cuda {

namespace {

bool is_f64(const Tensor& t, const char* op) {
  if (t.dtype() == DType::Float64) return true;
  DLCORE_CHECK(t.dtype() == DType::Float32, TypeError, op, "(): not supported for dtype ", dtype_name(t.dtype()),
               " on cuda");
  return false;
}

void max_fwd_cuda(const Tensor& out, const Tensor& indices, const Tensor& in, const Pool2dParams& p) {
  if (is_f64(in, "max_pool2d")) return max_fwd_f64(out, indices, in, p);
  max_fwd_launch<float>(out, indices, in, p);
}
void max_bwd_cuda(const Tensor& gin, const Tensor& gout, const Tensor& in, const Pool2dParams& p) {
  if (is_f64(in, "max_pool2d_backward")) return max_bwd_f64(gin, gout, in, p);
  max_bwd_launch<float>(gin, gout, in, p);
}
void avg_fwd_cuda(const Tensor& out, const Tensor& in, const Pool2dParams& p) {
  if (is_f64(in, "avg_pool2d")) return avg_fwd_f64(out, in, p);
  avg_fwd_launch<float>(out, in, p);
}
void avg_bwd_cuda(const Tensor& gin, const Tensor& gout, const Pool2dParams& p) {
  if (is_f64(gin, "avg_pool2d_backward")) return avg_bwd_f64(gin, gout, p);
  avg_bwd_launch<float>(gin, gout, p);
}
void adaptive_fwd_cuda(const Tensor& out, const Tensor& in) {
  if (is_f64(in, "adaptive_avg_pool2d")) return adaptive_fwd_f64(out, in);
  adaptive_fwd_launch<float>(out, in);
}
void adaptive_bwd_cuda(const Tensor& gin, const Tensor& gout) {
  if (is_f64(gin, "adaptive_avg_pool2d_backward")) return adaptive_bwd_f64(gin, gout);
  adaptive_bwd_launch<float>(gin, gout);
}

KernelRegistrar r1(max_pool2d_fwd_op, DeviceType::CUDA, &max_fwd_cuda, "cuda");
KernelRegistrar r2(max_pool2d_bwd_op, DeviceType::CUDA, &max_bwd_cuda, "cuda");
KernelRegistrar r3(avg_pool2d_fwd_op, DeviceType::CUDA, &avg_fwd_cuda, "cuda");
KernelRegistrar r4(avg_pool2d_bwd_op, DeviceType::CUDA, &avg_bwd_cuda, "cuda");
KernelRegistrar r5(adaptive_avg_pool2d_fwd_op, DeviceType::CUDA, &adaptive_fwd_cuda, "cuda");
KernelRegistrar r6(adaptive_avg_pool2d_bwd_op, DeviceType::CUDA, &adaptive_bwd_cuda, "cuda");

}  // namespace

}  // namespace dlcore::pool_cuda
