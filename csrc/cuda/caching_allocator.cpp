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

#include <map>
#include <mutex>
#include <unordered_map>

#include "core/allocator.h"
#include "core/errors.h"
#include "cuda/runtime.h"

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
    DLCORE_CHECK(device >= 0 && device < kMaxDevices && device < device_count(), RuntimeError,
                 "cuda: invalid device cuda:", device, " (", device_count(), " device(s) available)");
    std::size_t size = round_size(nbytes);
    std::lock_guard<std::mutex> g(m_);
    DevState& d = dev_[device];
    auto it = d.free.lower_bound(size);
    if (it != d.free.end() && (size < kSmallLimit ? it->first == size : it->first <= size + size / 8)) {
      void* p = it->second;
      std::size_t real = it->first;
      d.free.erase(it);
      d.cached -= real;
      d.live[p] = real;
      count(d, real);
#if defined(DLCORE_CUDA_EMULATED)
      memset(p, 0xff, real);  // the emulator poisons every allocation (NaN / -1), reused blocks included
#endif
      return p;
    }
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
    d.live[p] = size;
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
    std::size_t size = it->second;
    d.live.erase(it);
    d.allocated -= (int64_t)size;
    d.free.emplace(size, p);
    d.cached += size;
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
  struct DevState {
    std::multimap<std::size_t, void*> free;
    std::unordered_map<void*, std::size_t> live;
    int64_t allocated = 0, peak = 0, reserved = 0;
    std::size_t cached = 0;
  };
  void count(DevState& d, std::size_t size) {
    d.allocated += (int64_t)size;
    if (d.allocated > d.peak) d.peak = d.allocated;
  }
  void release_cached(int device, DevState& d) {
    if (d.free.empty()) return;
    device_synchronize();
    for (auto& kv : d.free) raw_free(kv.second, device);
    d.reserved -= (int64_t)d.cached;
    d.cached = 0;
    d.free.clear();
  }
  std::mutex m_;
  DevState dev_[kMaxDevices];
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

}  // namespace dlcore::cuda
#endif  // DLCORE_WITH_CUDA
