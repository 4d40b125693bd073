#include "core/allocator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>

#include "core/common.h"
#include "core/errors.h"

namespace dlcore {

namespace {

// Blocks from this size on are mmap'd and cached. 128 KiB is glibc's own mmap threshold: below 1 MiB, blocks of a
// few hundred KiB (an LSTM's per-call buffers) went to glibc, which mmaps (or trims) and faults them in again on
// every call: 424 page faults per lstm_small forward, ~13% of its time, none with them cached here.
constexpr std::size_t kLargeBlock = 128 << 10;
constexpr std::size_t kPage = 4096;

std::atomic<int64_t> g_allocated{0};
std::atomic<int64_t> g_peak{0};

std::size_t physical_memory() {
  static const std::size_t mem = [] {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return (pages > 0 && size > 0) ? (std::size_t)pages * (std::size_t)size : (std::size_t)1 << 40;
  }();
  return mem;
}

std::string human_bytes(std::size_t n) {
  char buf[64];
  if (n >= (1ull << 30)) snprintf(buf, sizeof buf, "%.2f GiB", n / double(1ull << 30));
  else if (n >= (1ull << 20)) snprintf(buf, sizeof buf, "%.2f MiB", n / double(1ull << 20));
  else snprintf(buf, sizeof buf, "%zu bytes", n);
  return buf;
}

class LargeBlockCache {
 public:
  void* take(std::size_t& size) {  // size is page-rounded; set to the block's real size when one is found
    std::lock_guard<std::mutex> g(m_);
    auto it = free_.lower_bound(size);
    // Accept a cached block at most 1/8 larger than asked, so big blocks are not wasted on small requests.
    if (it != free_.end() && it->first <= size + size / 8) {
      void* p = it->second;
      size = it->first;
      cached_ -= it->first;
      sizes_[p] = it->first;
      free_.erase(it);
      return p;
    }
    return nullptr;
  }
  // Returns the real size of a block handed out by take() or registered by note().
  std::size_t real_size(void* p, std::size_t fallback) {
    std::lock_guard<std::mutex> g(m_);
    auto it = sizes_.find(p);
    if (it == sizes_.end()) return fallback;
    std::size_t s = it->second;
    sizes_.erase(it);
    return s;
  }
  void note(void* p, std::size_t size) {
    std::lock_guard<std::mutex> g(m_);
    sizes_[p] = size;
  }
  void put(void* p, std::size_t size) {
    std::lock_guard<std::mutex> g(m_);
    if (cached_ + size > limit()) {
      // Drop the largest cached blocks until it fits (or give this one back if it alone is too big).
      while (!free_.empty() && cached_ + size > limit()) {
        auto last = std::prev(free_.end());
        munmap(last->second, last->first);
        cached_ -= last->first;
        free_.erase(last);
      }
      if (size > limit()) {
        munmap(p, size);
        return;
      }
    }
    // Most recently freed first among blocks of one size: the block just given back is the one still in the
    // caches (and TLB). emplace() put it after its equals, so take() cycled through every cached block of a size:
    // a 4M-float relu in a loop that also held other 16 MB blocks wrote a different cold block on each call
    // (1.5x the time of a copy into one buffer; now 1.0x).
    free_.emplace_hint(free_.lower_bound(size), size, p);
    cached_ += size;
  }
  void clear() {
    std::lock_guard<std::mutex> g(m_);
    for (auto& kv : free_) munmap(kv.second, kv.first);
    free_.clear();
    cached_ = 0;
  }
  int64_t cached() {
    std::lock_guard<std::mutex> g(m_);
    return (int64_t)cached_;
  }

 private:
  static std::size_t limit() {
    static const std::size_t lim = [] {
      const char* env = std::getenv("DLCORE_CPU_CACHE_MB");
      long mb = env ? std::atol(env) : 2048;
      return (std::size_t)(mb < 0 ? 0 : mb) << 20;
    }();
    return lim;
  }
  std::mutex m_;
  std::multimap<std::size_t, void*> free_;
  std::map<void*, std::size_t> sizes_;
  std::size_t cached_ = 0;
};

LargeBlockCache& cache() {
  static LargeBlockCache* c = new LargeBlockCache();  // leaked: storages may die during static destruction
  return *c;
}

void count_alloc(std::size_t n) {
  int64_t now = g_allocated.fetch_add((int64_t)n) + (int64_t)n;
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

struct CpuAllocator : DeviceAllocator {
  void* allocate(std::size_t nbytes, int) override { return cpu_allocate(nbytes); }
  void deallocate(void* p, std::size_t nbytes, int) override { cpu_deallocate(p, nbytes); }
};

DeviceAllocator*& allocator_slot(DeviceType t) {
  static DeviceAllocator* slots[kNumDeviceTypes] = {new CpuAllocator(), nullptr};
  return slots[(int)t];
}

}  // namespace

void* cpu_allocate(std::size_t nbytes) {
  if (nbytes > physical_memory())
    DLCORE_THROW(MemoryError, "cpu: cannot allocate ", human_bytes(nbytes), " (", nbytes,
                 " bytes): more than this machine's physical memory (", human_bytes(physical_memory()), ")");
  void* p = nullptr;
  if (nbytes >= kLargeBlock) {
    std::size_t size = (nbytes + kPage - 1) & ~(kPage - 1);
    p = cache().take(size);
    if (!p) {
      p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED)
        DLCORE_THROW(MemoryError, "cpu: cannot allocate ", human_bytes(nbytes), " (", nbytes, " bytes): out of memory");
#ifdef MADV_HUGEPAGE
      if (size >= (2u << 20)) madvise(p, size, MADV_HUGEPAGE);
#endif
      cache().note(p, size);
    }
    count_alloc(size);
    return p;
  }
  std::size_t size = (nbytes + kCpuAlignment - 1) & ~(kCpuAlignment - 1);
  if (size == 0) size = kCpuAlignment;
  p = std::aligned_alloc(kCpuAlignment, size);
  if (!p) DLCORE_THROW(MemoryError, "cpu: cannot allocate ", human_bytes(nbytes), ": out of memory");
  count_alloc(size);
  return p;
}

void cpu_deallocate(void* p, std::size_t nbytes) {
  if (!p) return;
  if (nbytes >= kLargeBlock) {
    std::size_t size = cache().real_size(p, (nbytes + kPage - 1) & ~(kPage - 1));
    g_allocated.fetch_sub((int64_t)size);
    cache().put(p, size);
    return;
  }
  std::size_t size = (nbytes + kCpuAlignment - 1) & ~(kCpuAlignment - 1);
  if (size == 0) size = kCpuAlignment;
  g_allocated.fetch_sub((int64_t)size);
  std::free(p);
}

CpuMemoryStats cpu_memory_stats() {
  CpuMemoryStats s;
  s.allocated = g_allocated.load();
  s.peak_allocated = g_peak.load();
  s.cached = cache().cached();
  return s;
}

void empty_cpu_cache() { cache().clear(); }

void set_device_allocator(DeviceType type, DeviceAllocator* alloc) { allocator_slot(type) = alloc; }

DeviceAllocator& device_allocator(DeviceType type) {
  DeviceAllocator* a = allocator_slot(type);
  if (!a) {
#ifdef DLCORE_WITH_CUDA
    DLCORE_THROW(RuntimeError, "cuda: the CUDA runtime is not available (no CUDA device was found or the driver "
                 "could not be loaded); dlcore.cuda.is_available() tells");
#else
    DLCORE_THROW(RuntimeError, "cuda: dlcore was built without CUDA, so tensors cannot be placed on a cuda device "
                 "(rebuild with nvcc present or -C cmake.define.DLCORE_CUDA=ON)");
#endif
  }
  return *a;
}

}  // namespace dlcore
