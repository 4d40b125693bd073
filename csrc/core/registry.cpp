#include "core/registry.h"

namespace dlcore {

std::vector<KernelRecord>& kernel_records() {
  static std::vector<KernelRecord>* r = new std::vector<KernelRecord>();
  return *r;
}

void throw_missing_kernel(const char* op, DeviceType dev) {
  if (dev == DeviceType::CUDA) {
#ifdef DLCORE_WITH_CUDA
    DLCORE_THROW(NotImplementedError, op, ": no kernel for device cuda: this op has no CUDA kernel in dlcore yet");
#else
    DLCORE_THROW(NotImplementedError, op, ": no kernel for device cuda: dlcore was built without CUDA (rebuild with "
                 "nvcc present, -C cmake.define.DLCORE_CUDA=ON, or the emulator flavour DLCORE_CUDA_EMU=ON)");
#endif
  }
  DLCORE_THROW(NotImplementedError, op, ": no kernel registered for device ", device_type_name(dev));
}

}  // namespace dlcore
