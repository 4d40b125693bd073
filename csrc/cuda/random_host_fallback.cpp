// Random tensors on cuda, until a device Philox kernel exists (issue 10: dropout with a counter-based RNG): the
// numbers are drawn by the CPU kernel from the same (seed, offset) and copied to the device, so cpu and cuda give
// identical tensors for the same seed (random.h's contract) at the cost of a host->device transfer.
#if defined(DLCORE_WITH_CUDA)
#include "ops/random/random.h"

namespace dlcore {

namespace {

void random_cuda_via_host(const Tensor& out, const RandomArgs& args) {
  Tensor h = Tensor::empty(out.shape(), out.dtype(), Device());
  random_op.get(DeviceType::CPU)(h, args);
  const_cast<Tensor&>(out).copy_from(h);
}

KernelRegistrar reg_random_cuda(random_op, DeviceType::CUDA, &random_cuda_via_host, "cuda (drawn on the host)");

}  // namespace

}  // namespace dlcore
#endif  // DLCORE_WITH_CUDA
