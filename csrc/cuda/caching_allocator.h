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

// Private memory pools of CUDA graphs (as torch's graph pools). While a pool is the capture pool, every allocation
// comes from it (its own free blocks first, then blocks taken from the shared cache or the device), and blocks freed
// meanwhile, whichever pool they came from, join it: a captured kernel may still read them at replay, so they must
// not be handed to tensors outside the graph. Blocks of a pool that are freed later return to that pool. Releasing a
// pool (the graph is destroyed) gives its free blocks back to the shared cache; its blocks still held by live
// tensors go there when those are freed.
int graph_pool_create();
void graph_pool_begin(int pool);  // makes pool the capture pool (one capture at a time)
void graph_pool_end();
void graph_pool_release(int pool);

}  // namespace dlcore::cuda
