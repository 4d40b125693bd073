// CUDA random tensors (kernels in random_kernels.cuh) and their registration for DeviceType::CUDA. Every dtype's
// kernel computes in float64 (random_element), hence this *_f64 file (the double-usage gate).
#include "ops/random/random_kernels.cuh"

namespace dlcore::random_cuda {

namespace {

void random_cuda(const Tensor& out, const RandomArgs& a) {
  dispatch_dtype(out.dtype(), "random", [&](auto tag) {
    using T = typename decltype(tag)::type;
    random_launch<T>(out, a);
  });
}

KernelRegistrar reg_random_cuda(random_op, DeviceType::CUDA, &random_cuda, "cuda");

}  // namespace

}  // namespace dlcore::random_cuda
