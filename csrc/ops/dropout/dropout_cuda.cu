// CUDA dropout: registration for DeviceType::CUDA (kernels in dropout_kernels.cuh; the frontend in dropout_cpu.cpp
// reserves the Philox blocks and checks the arguments before dispatch).
#include "ops/dropout/dropout_kernels.cuh"

namespace dlcore::dropout_cuda {

void dropout_launch_f64(const Tensor& out, const Tensor& in, const DropoutArgs& a);  // dropout_f64_cuda.cu

namespace {

void dropout_cuda(const Tensor& out, const Tensor& in, const DropoutArgs& a) {
  if (in.dtype() == DType::Float64) return dropout_launch_f64(out, in, a);
  // The scale is rounded on the host (no double in the float kernel), exactly as the CPU loop's (T)(1 / (1 - p)).
  float scale = a.p < 1 ? (float)(1.0 / (1.0 - a.p)) : 0.0f;
  dropout_launch<float>(out, in, a, scale);
}

KernelRegistrar reg(dropout_op, DeviceType::CUDA, &dropout_cuda, "cuda");

}  // namespace

}  // namespace dlcore::dropout_cuda
