#include "core/parallel.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/errors.h"

#if defined(__x86_64__) || defined(__i386__)
#include "core/x86_intrin.h"
#define DLCORE_CPU_RELAX() _mm_pause()
#else
#define DLCORE_CPU_RELAX() std::this_thread::yield()
#endif

namespace dlcore {

namespace {

thread_local bool t_in_parallel = false;

int default_threads() {
  if (const char* env = std::getenv("DLCORE_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1) return n;
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? (int)hc : 1;
}

// Spin iterations before a worker goes to sleep (~50 us of pause instructions on Zen 4).
constexpr int kSpinIters = 4000;

class Pool {
 public:
  explicit Pool(int nthreads) { start(nthreads); }
  ~Pool() { stop(); }

  int size() const { return nthreads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> g(run_mutex_);
    stop();
    start(n);
  }

  // Called in a forked child: the worker threads do not exist there; forget them without joining.
  void after_fork_child() {
    for (auto& t : workers_) t.detach();
    workers_.clear();
    new (&run_mutex_) std::mutex();
    shutdown_.store(false);
    int n = nthreads_;
    nthreads_ = 1;
    start(n);
  }

  void run(int nthreads, void (*call)(void*, int), void* ctx) {
    if (nthreads <= 1) {
      run_serial(nthreads, call, ctx);
      return;
    }
    // Another thread (e.g. a Python thread that released the GIL) may be using the pool: wait for it, so that the
    // nthreads tasks of one job always run concurrently and may synchronise with each other.
    std::unique_lock<std::mutex> g(run_mutex_);
    if (nthreads > nthreads_) nthreads = nthreads_;
    call_ = call;
    ctx_ = ctx;
    job_threads_ = nthreads;
    error_ = nullptr;
    pending_.store(nthreads - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
    execute(0);
    int spins = 0;
    while (pending_.load(std::memory_order_acquire) != 0) {
      if (++spins < kSpinIters) DLCORE_CPU_RELAX();
      else std::this_thread::yield();
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_serial(int nthreads, void (*call)(void*, int), void* ctx) {
    bool prev = t_in_parallel;
    t_in_parallel = true;
    try {
      for (int t = 0; t < nthreads; ++t) call(ctx, t);
    } catch (...) {
      t_in_parallel = prev;
      throw;
    }
    t_in_parallel = prev;
  }

  void execute(int tid) {
    bool prev = t_in_parallel;
    t_in_parallel = true;
    try {
      call_(ctx_, tid);
    } catch (...) {
      std::lock_guard<std::mutex> g(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
    t_in_parallel = prev;
  }

  // id in [1, nthreads_); seen = the generation when the thread was created (read by the creator, so a job
  // published before this thread first runs is not missed).
  void worker(int id, uint64_t seen) {
    for (;;) {
      int spins = 0;
      uint64_t g;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) {
        if (shutdown_.load(std::memory_order_acquire)) return;
        if (++spins < kSpinIters) {
          DLCORE_CPU_RELAX();
        } else {
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          if (generation_.load(std::memory_order_seq_cst) == seen && !shutdown_.load()) generation_.wait(seen);
          sleepers_.fetch_sub(1, std::memory_order_seq_cst);
          spins = 0;
        }
      }
      seen = g;
      if (shutdown_.load(std::memory_order_acquire)) return;
      if (id < job_threads_) {
        execute(id);
        pending_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  void start(int n) {
    nthreads_ = n < 1 ? 1 : n;
    shutdown_.store(false);
    uint64_t g0 = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < nthreads_; ++i) workers_.emplace_back([this, i, g0] { worker(i, g0); });
  }

  void stop() {
    shutdown_.store(true, std::memory_order_seq_cst);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    generation_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  int nthreads_ = 1;
  std::mutex run_mutex_;
  std::mutex error_mutex_;
  std::exception_ptr error_;
  void (*call_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  int job_threads_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> shutdown_{false};
};

Pool*& pool_ptr() {
  static Pool* p = nullptr;
  return p;
}

std::once_flag pool_once;

Pool& pool() {
  std::call_once(pool_once, [] {
    pool_ptr() = new Pool(default_threads());  // never destroyed: workers may outlive static destruction order
    pthread_atfork(nullptr, nullptr, [] {
      if (pool_ptr()) pool_ptr()->after_fork_child();
    });
  });
  return *pool_ptr();
}

}  // namespace

int get_num_threads() { return pool().size(); }

void set_num_threads(int n) {
  DLCORE_CHECK(n >= 1, ValueError, "set_num_threads: expected a positive thread count, got ", n);
  DLCORE_CHECK(!in_parallel_region(), RuntimeError, "set_num_threads: cannot be called inside a parallel region");
  if (n != pool().size()) pool().resize(n);
}

bool in_parallel_region() { return t_in_parallel; }

namespace detail {
void run_parallel(int nthreads, void (*call)(void* ctx, int tid), void* ctx) { pool().run(nthreads, call, ctx); }
}  // namespace detail

}  // namespace dlcore
