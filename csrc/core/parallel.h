// Thread pool and parallel_for. DLCORE_NUM_THREADS sets the thread count (default: the cores this process may run
// on). Workers spin briefly after a job (so back-to-back kernels do not pay a futex wake-up) and then sleep, so an
// idle dlcore never burns a core another library needs.
//
// Nested calls run serially on the calling thread (parallel_run then passes nthreads = 1). The tasks of one
// parallel_run call with nthreads > 1 run concurrently, so they may wait for each other (a GEMM's shared packing).
#pragma once
#include <cstdint>

namespace dlcore {

int get_num_threads();
void set_num_threads(int n);  // raises ValueError for n < 1
bool in_parallel_region();

namespace detail {
// Runs call(ctx, tid) for tid in [0, nthreads) concurrently (tid 0 on the calling thread). Exceptions thrown by any
// task are rethrown on the calling thread after all tasks finished.
void run_parallel(int nthreads, void (*call)(void* ctx, int tid), void* ctx);
}  // namespace detail

// fn(tid, nthreads) on nthreads threads (clamped to [1, get_num_threads()]).
template <class F>
void parallel_run(int nthreads, const F& fn) {
  int nt = get_num_threads();
  if (nthreads > nt) nthreads = nt;
  if (nthreads <= 1 || in_parallel_region()) {
    fn(0, 1);
    return;
  }
  struct Ctx { const F* fn; int nt; } ctx{&fn, nthreads};
  detail::run_parallel(
      nthreads, [](void* c, int tid) { auto* x = static_cast<Ctx*>(c); (*x->fn)(tid, x->nt); }, &ctx);
}

// fn(chunk_begin, chunk_end) over disjoint chunks covering [begin, end). Each chunk holds at least `grain` items
// (so small loops stay on one thread); chunks are as equal as possible, one per thread.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  int64_t n = end - begin;
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int64_t max_chunks = (n + grain - 1) / grain;
  int nt = get_num_threads();
  int chunks = (int)(max_chunks < nt ? max_chunks : nt);
  if (chunks <= 1 || in_parallel_region()) {
    fn(begin, end);
    return;
  }
  parallel_run(chunks, [&](int tid, int nthreads) {
    int64_t lo = begin + n * tid / nthreads;
    int64_t hi = begin + n * (tid + 1) / nthreads;
    if (lo < hi) fn(lo, hi);
  });
}

}  // namespace dlcore
