// The CUDA caching allocator's statistics and cache control (the allocator itself is the DeviceAllocator registered
// for DeviceType::CUDA; see caching_allocator.cpp for the size classes and reuse policy).
#pragma once
#include <cstdint>

namespace dlcore::cuda {

struct MemoryStats {
  int64_t allocated = 0;  // bytes in blocks handed out to live tensors (rounded to the size class)
  int64_t peak = 0;       // the largest `allocated` since start or the last reset
  int64_t reserved = 0;   // bytes obtained from the device (allocated + cached)
  int64_t cached = 0;     // bytes in free blocks kept for reuse
};

void empty_cache();
MemoryStats memory_stats(int device);
void reset_peak_memory_stats(int device);

}  // namespace dlcore::cuda
