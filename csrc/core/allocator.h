// Device allocators. Storage::allocate goes through the allocator registered for the device type.
//
// CPU: 64-byte aligned. Blocks of 128 KiB and more come from mmap (with transparent huge pages requested) and are
// cached on free, keyed by size, so a training loop that allocates the same activations every step does not pay
// first-touch page faults every step (a fresh 64 MiB buffer costs ~25 ms of faults on this machine against ~5 ms
// of work). The cache is bounded (DLCORE_CPU_CACHE_MB, default 2048) and emptied by empty_cpu_cache().
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/device.h"

namespace dlcore {

struct DeviceAllocator {
  virtual ~DeviceAllocator() = default;
  virtual void* allocate(std::size_t nbytes, int device_index) = 0;
  virtual void deallocate(void* p, std::size_t nbytes, int device_index) = 0;
};

// The CUDA runtime (real or emulated) registers its allocator here at load time.
void set_device_allocator(DeviceType type, DeviceAllocator* alloc);
// Raises RuntimeError naming the device when none is registered ("dlcore was built without CUDA").
DeviceAllocator& device_allocator(DeviceType type);

void* cpu_allocate(std::size_t nbytes);  // raises MemoryError with the size on failure
void cpu_deallocate(void* p, std::size_t nbytes);

struct CpuMemoryStats {
  int64_t allocated = 0;      // bytes handed out and not yet returned
  int64_t peak_allocated = 0;
  int64_t cached = 0;         // bytes held in the cache of large blocks
};
CpuMemoryStats cpu_memory_stats();
void empty_cpu_cache();

}  // namespace dlcore
