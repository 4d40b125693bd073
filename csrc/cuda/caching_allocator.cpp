// The CUDA caching allocator, registered as the DeviceAllocator of DeviceType::CUDA (real and emulated builds).
//
// cudaMalloc/cudaFree synchronise the device and cost tens of microseconds, so freed blocks are kept and reused:
//   size classes: requests are rounded up to 512 bytes below 1 MiB, to 2 MiB multiples from 1 MiB on;
//   reuse: a free block of the same class (small) or at most 1/8 larger (large) is handed out again;
//   on out-of-memory the cache is emptied and the allocation retried once;
//   empty_cache() returns every cached block to the device.
// Stats: allocated (bytes of blocks handed out), peak allocated (resettable), reserved (allocated + cached).
// Blocks are not stream-aware: code that frees a block while another stream still uses it must synchronise first
// (dlcore runs its kernels on one current stream).
#if defined(DLCORE_WITH_CUDA)
#include "cuda/caching_allocator.h"

#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "core/allocator.h"
#include "core/errors.h"
#include "cuda/runtime.h"

// AddressSanitizer builds of the emulator (DLCORE_ASAN): device memory is host memory, so the allocator tells ASan
// what is usable: the bytes a tensor asked for; the rest of its rounded block and every cached (freed) block are
// poisoned, so a kernel writing one element past a tensor is reported even though the block is larger.
#if defined(DLCORE_CUDA_EMULATED) && defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define DLCORE_ALLOC_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define DLCORE_ALLOC_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define DLCORE_ALLOC_POISON(p, n) ((void)(p), (void)(n))
#define DLCORE_ALLOC_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace dlcore::cuda {

namespace {

constexpr std::size_t kSmallLimit = 1 << 20;
constexpr std::size_t kSmallRound = 512;
constexpr std::size_t kLargeRound = 2 << 20;
constexpr int kMaxDevices = 16;

std::size_t round_size(std::size_t n) {
  if (n == 0) n = 1;
  if (n < kSmallLimit) return (n + kSmallRound - 1) / kSmallRound * kSmallRound;
  return (n + kLargeRound - 1) / kLargeRound * kLargeRound;
}

class CachingAllocator : public DeviceAllocator {
 public:
  void* allocate(std::size_t nbytes, int device) override {
    std::size_t block = 0;
    void* p = allocate_block(nbytes, device, &block);
    // the rounding tail, except in a graph capture: a captured block is reused by later captured tensors of other
    // sizes, and a replay runs all their kernels again in order, so no single tail is right for it. It starts at
    // the next 4-byte boundary: sub-word atomics (uint8/float16 scatter_add) CAS the aligned 32-bit word around
    // their element, which on a device always lies inside the (256-byte aligned) allocation.
    const std::size_t keep = (nbytes + 3) & ~std::size_t(3);
    if (block > keep) DLCORE_ALLOC_POISON(static_cast<char*>(p) + keep, block - keep);
    return p;
  }

  void* allocate_block(std::size_t nbytes, int device, std::size_t* block) {
    DLCORE_CHECK(device >= 0 && device < kMaxDevices && device < device_count(), RuntimeError,
                 "cuda: invalid device cuda:", device, " (", device_count(), " device(s) available)");
    std::size_t size = round_size(nbytes);
    *block = size;
    std::lock_guard<std::mutex> g(m_);
    DevState& d = dev_[device];
    int pool = capture_pool_;
    // a capture takes its pool's free blocks first, then the shared cache's (and reports no tail: see allocate())
    if (pool != 0) {
      *block = 0;
      block = &no_tail_;
      if (void* p = take_free(d, d.pool_free[pool], size, pool, block)) return p;
    }
    if (void* p = take_free(d, d.free, size, pool, block)) return p;
    void* p;
    try {
      p = raw_malloc(size, device);
    } catch (const MemoryError&) {
      release_cached(device, d);
      try {
        p = raw_malloc(size, device);
      } catch (const MemoryError& e) {
        DLCORE_THROW(MemoryError, e.what(), "; dlcore holds ", d.allocated, " bytes in live tensors on cuda:",
                     device);
      }
    }
    d.live[p] = Block{size, pool};
    d.reserved += size;
    count(d, size);
    return p;
  }

  void deallocate(void* p, std::size_t, int device) override {
    if (!p) return;
    std::lock_guard<std::mutex> g(m_);
    DevState& d = dev_[device];
    auto it = d.live.find(p);
    if (it == d.live.end()) return;  // not ours (cannot happen for allocator-owned storages)
    std::size_t size = it->second.size;
    int pool = capture_pool_ != 0 ? capture_pool_ : it->second.pool;
    d.live.erase(it);
    d.allocated -= (int64_t)size;
    if (pool != 0 && live_pools_.count(pool)) {
      d.pool_free[pool].emplace(size, p);  // a captured graph may still use it on replay: not poisoned
    } else {
      DLCORE_ALLOC_POISON(p, size);  // cached: no kernel may touch it until it is handed out again
      d.free.emplace_hint(d.free.lower_bound(size), size, p);  // first among its size: the last freed is reused
    }                                                           // first, still in L2 (core/allocator.cpp says why)
    d.cached += size;
  }

  int pool_create() {
    std::lock_guard<std::mutex> g(m_);
    int id = ++next_pool_;
    live_pools_.insert(id);
    return id;
  }
  void pool_begin(int pool) {
    std::lock_guard<std::mutex> g(m_);
    DLCORE_CHECK(capture_pool_ == 0, RuntimeError, "cuda graph: another capture is in progress (one at a time)");
    DLCORE_CHECK(live_pools_.count(pool), RuntimeError, "cuda graph: memory pool ", pool, " was released");
    capture_pool_ = pool;
  }
  void pool_end() {
    std::lock_guard<std::mutex> g(m_);
    capture_pool_ = 0;
  }
  void pool_release(int pool) {
    std::lock_guard<std::mutex> g(m_);
    if (capture_pool_ == pool) capture_pool_ = 0;
    live_pools_.erase(pool);
    for (DevState& d : dev_) {
      auto it = d.pool_free.find(pool);
      if (it == d.pool_free.end()) continue;
      for (auto& kv : it->second) {
        DLCORE_ALLOC_POISON(kv.second, kv.first);
        d.free.emplace(kv.first, kv.second);
      }
      d.pool_free.erase(it);
    }
  }

  void empty_cache() {
    std::lock_guard<std::mutex> g(m_);
    for (int i = 0; i < kMaxDevices; ++i) release_cached(i, dev_[i]);
  }

  MemoryStats stats(int device) {
    std::lock_guard<std::mutex> g(m_);
    DevState& d = dev_[device < 0 || device >= kMaxDevices ? 0 : device];
    return MemoryStats{d.allocated, d.peak, d.reserved, (int64_t)d.cached};
  }

  void reset_peak(int device) {
    std::lock_guard<std::mutex> g(m_);
    DevState& d = dev_[device < 0 || device >= kMaxDevices ? 0 : device];
    d.peak = d.allocated;
  }

 private:
  struct Block {
    std::size_t size;
    int pool;  // 0: the shared cache; else the graph pool it belongs to
  };
  using FreeList = std::multimap<std::size_t, void*>;
  struct DevState {
    FreeList free;                           // the shared cache
    std::map<int, FreeList> pool_free;       // free blocks of each live graph pool
    std::unordered_map<void*, Block> live;
    int64_t allocated = 0, peak = 0, reserved = 0;
    std::size_t cached = 0;
  };
  // A cached block for a request of `size` from list (same class when small, at most 1/8 larger when large).
  void* take_free(DevState& d, FreeList& list, std::size_t size, int pool, std::size_t* block) {
    auto it = list.lower_bound(size);
    if (it == list.end() || !(size < kSmallLimit ? it->first == size : it->first <= size + size / 8)) return nullptr;
    void* p = it->second;
    std::size_t real = it->first;
    *block = real;
    list.erase(it);
    d.cached -= real;
    d.live[p] = Block{real, pool};
    count(d, real);
    DLCORE_ALLOC_UNPOISON(p, real);
#if defined(DLCORE_CUDA_EMULATED)
    std::memset(p, 0xff, real);  // the emulator poisons every allocation (NaN / -1), reused blocks too
#endif
    return p;
  }
  void count(DevState& d, std::size_t size) {
    d.allocated += (int64_t)size;
    if (d.allocated > d.peak) d.peak = d.allocated;
  }
  void release_cached(int device, DevState& d) {
    if (d.free.empty()) return;
    device_synchronize();
    std::size_t bytes = 0;
    for (auto& kv : d.free) {
      DLCORE_ALLOC_UNPOISON(kv.second, kv.first);
      raw_free(kv.second, device);
      bytes += kv.first;
    }
    d.reserved -= (int64_t)bytes;
    d.cached -= bytes;  // graph pools keep theirs
    d.free.clear();
  }
  std::mutex m_;
  DevState dev_[kMaxDevices];
  int capture_pool_ = 0, next_pool_ = 0;
  std::size_t no_tail_ = 0;  // a write-only sink for allocate_block's block size during a capture (the caller sees 0)
  std::set<int> live_pools_;
};

CachingAllocator& instance() {
  static CachingAllocator* a = new CachingAllocator();  // leaked: storages may die during static destruction
  return *a;
}

// Registered at load time when a device exists (the real build without a usable device leaves the slot empty,
// so placing a tensor on cuda raises "not available").
struct Registrar {
  Registrar() {
    if (is_available()) set_device_allocator(DeviceType::CUDA, &instance());
  }
} g_registrar;

}  // namespace

void empty_cache() { instance().empty_cache(); }
MemoryStats memory_stats(int device) { return instance().stats(device); }
void reset_peak_memory_stats(int device) { instance().reset_peak(device); }
int graph_pool_create() { return instance().pool_create(); }
void graph_pool_begin(int pool) { instance().pool_begin(pool); }
void graph_pool_end() { instance().pool_end(); }
void graph_pool_release(int pool) { instance().pool_release(pool); }

}  // namespace dlcore::cuda
#endif  // DLCORE_WITH_CUDA
