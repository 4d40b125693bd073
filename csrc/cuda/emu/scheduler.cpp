// The SIMT emulator's scheduler: fibers, the context switch, __syncthreads, warp collectives, cp.async queues.
//
// One block at a time on the calling OS thread. Each thread of the block is a fiber on its own mmap'd stack (with a
// guard page below it), reused across blocks and launches. A pass runs every ready fiber, in the schedule's order,
// until it blocks (barrier, warp collective) or exits; then the scheduler resolves what can be resolved:
//   1. warp collectives whose mask lanes all wait at the same collective (results computed for all lanes at once);
//   2. otherwise, when every live fiber waits at __syncthreads, the barrier releases;
//   3. otherwise the block is deadlocked: the launch fails with a message saying who waits where.
// Errors found inside a fiber (__trap, cp.async misuse) stop the block the same way: the fibers are abandoned (their
// stacks are reused; kernels hold no resources) and run_grid raises dlcore::RuntimeError.
//
// Context switch: a 20-line x86-64 routine saving the callee-saved registers, MXCSR and the x87 control word
// (~40 M switches/s here); glibc's swapcontext (a signal-mask system call per switch, ~4 M/s) is the portable
// fallback, used off x86-64 or with DLCORE_SIMT_CONTEXT=ucontext.
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "cuda/emu/emu_api.h"
#define DLCORE_CUDA_EMULATED_SCHEDULER 1
#if !defined(DLCORE_CUDA_EMULATED)
#define DLCORE_CUDA_EMULATED 1
#endif
#include "cuda/emu/simt.h"

#if defined(__SANITIZE_ADDRESS__)
#define DLCORE_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DLCORE_EMU_ASAN 1
#endif
#endif
#ifdef DLCORE_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/asan_interface.h>
#endif

DLCORE_EMU_TLS uint3 threadIdx;
DLCORE_EMU_TLS uint3 blockIdx;
DLCORE_EMU_TLS uint3 blockDim;
DLCORE_EMU_TLS uint3 gridDim;

// ------------------------------------------------------------------------------------------------ context switch
#if defined(__x86_64__)
extern "C" void dlcore_emu_switch(void** save_sp, void* new_sp);
// Saves rbp, rbx, r12-r15, MXCSR and the x87 control word on the current stack, stores rsp in *save_sp, loads
// new_sp and restores the same from there. A new fiber's stack is prepared to "return" into fiber_entry.
asm(R"(
  .text
  .globl dlcore_emu_switch
  .hidden dlcore_emu_switch
  .type dlcore_emu_switch,@function
dlcore_emu_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size dlcore_emu_switch,.-dlcore_emu_switch
)");
#define DLCORE_EMU_HAVE_ASM 1
#endif

namespace dlcore::emu {

namespace {

enum class St : uint8_t { Ready, Barrier, Warp, Exited };

struct CpOp {
  void* dst;
  const void* src;
  int bytes, src_bytes;
};

struct Fiber {
  void* sp = nullptr;  // asm context
  ucontext_t uc;       // ucontext fallback
  char* stack = nullptr;
  std::size_t stack_size = 0;
  St st = St::Ready;
  uint3 tid{0, 0, 0};
  int linear = 0;
  // barrier
  int pred = 0;
  int bar_result = 0;
  // warp op
  WarpOpKind wop = WarpOpKind::Shfl;
  const char* wname = "";
  unsigned mask = 0;
  uint64_t value = 0, result = 0;
  int param = 0, width = 32;
  void* coll_data = nullptr;
  void (*coll_fn)(void**, unsigned) = nullptr;
  // cp.async
  std::vector<CpOp> cp_pending;     // issued copies not yet performed
  std::vector<std::size_t> cp_ends;  // committed groups: end index into cp_pending, oldest first
};

struct Config {
  int kind = 0;  // 0 forward, 1 reverse, 2 random
  uint64_t seed = 0x5eed;
  bool ucontext = false;
  std::size_t stack_bytes = 0;
};

std::mutex g_cfg_mutex;
Config& config() {
  static Config* c = [] {
    auto* cfg = new Config();
    const char* s = std::getenv("DLCORE_SIMT_SCHEDULE");
    const char* ctx = std::getenv("DLCORE_SIMT_CONTEXT");
#ifdef DLCORE_EMU_HAVE_ASM
    cfg->ucontext = ctx && std::string(ctx) == "ucontext";
#else
    cfg->ucontext = true;
#endif
    const char* kb = std::getenv("DLCORE_SIMT_STACK_KB");
#ifdef DLCORE_EMU_ASAN
    std::size_t def_kb = 512;
#else
    std::size_t def_kb = 128;
#endif
    cfg->stack_bytes = (kb ? std::max<long>(16, std::atol(kb)) : (long)def_kb) * 1024;
    if (s && *s) {
      try {
        std::string spec = s;
        if (spec == "forward") cfg->kind = 0;
        else if (spec == "reverse") cfg->kind = 1;
        else if (spec == "random") cfg->kind = 2;
        else if (spec.rfind("random:", 0) == 0) {
          cfg->kind = 2;
          cfg->seed = std::stoull(spec.substr(7));
        }
      } catch (...) {
      }
    }
    return cfg;
  }();
  return *c;
}

std::mutex g_stats_mutex;
Stats g_stats;

struct Scheduler;
thread_local Scheduler* t_sched = nullptr;

struct Scheduler {
  std::vector<Fiber> fibers;
  std::vector<int> order;
  void* main_sp = nullptr;
  ucontext_t main_uc;
  Fiber* cur = nullptr;
  bool use_uc = false;
  std::size_t stack_bytes = 0;
  // block state
  const char* kernel = "";
  uint3 block{0, 0, 0};
  int nthreads = 0;
  void (*body)(void*) = nullptr;
  void* ctx = nullptr;
  unsigned char* smem = nullptr;
  std::size_t smem_size = 0, smem_cap = 0;
  std::string error;
  bool failed = false;
  int n_exited = 0, n_warp = 0;  // fibers in these states (kept up to date, so a pass need not scan)
  uint64_t csr = 0;              // MXCSR and x87 control word for new fibers (read once per launch)
  std::mt19937_64 rng;
  Stats local;
#ifdef DLCORE_EMU_ASAN
  void* fake_stack = nullptr;
  const void* main_stack_bottom = nullptr;
  std::size_t main_stack_size = 0;
#endif

  ~Scheduler() {
    for (auto& f : fibers)
      if (f.stack) munmap(f.stack - page(), f.stack_size + page());
    std::free(smem);
  }
  static std::size_t page() {
    static const std::size_t p = (std::size_t)sysconf(_SC_PAGESIZE);
    return p;
  }

  void ensure_fibers(int n) {
    if ((int)fibers.size() < n) fibers.resize(n);
    for (int i = 0; i < n; ++i) {
      Fiber& f = fibers[i];
      if (f.stack && f.stack_size == stack_bytes) continue;
      if (f.stack) munmap(f.stack - page(), f.stack_size + page());
      std::size_t total = stack_bytes + page();
      void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED)
        DLCORE_THROW(MemoryError, "cuda emulator: cannot map a ", stack_bytes / 1024, " KiB fiber stack for thread ",
                     i, " (", n, " threads per block)");
      mprotect(p, page(), PROT_NONE);  // guard page: a stack overflow faults instead of corrupting a neighbour
      f.stack = static_cast<char*>(p) + page();
      f.stack_size = stack_bytes;
    }
  }

  // ---- switching ----
  void switch_to(Fiber& f) {
    cur = &f;
    threadIdx = f.tid;
    ++local.switches;
#ifdef DLCORE_EMU_ASAN
    __sanitizer_start_switch_fiber(&fake_stack, f.stack, f.stack_size);
#endif
    if (use_uc) swapcontext(&main_uc, &f.uc);
#ifdef DLCORE_EMU_HAVE_ASM
    else dlcore_emu_switch(&main_sp, f.sp);
#endif
#ifdef DLCORE_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
    cur = nullptr;
  }
  // From a fiber back to the scheduler.
  void yield_to_main() {
    Fiber& f = *cur;
#ifdef DLCORE_EMU_ASAN
    void* fs = nullptr;
    __sanitizer_start_switch_fiber(f.st == St::Exited ? nullptr : &fs, main_stack_bottom, main_stack_size);
#endif
    if (use_uc) swapcontext(&f.uc, &main_uc);
#ifdef DLCORE_EMU_HAVE_ASM
    else dlcore_emu_switch(&f.sp, main_sp);
#endif
#ifdef DLCORE_EMU_ASAN
    __sanitizer_finish_switch_fiber(fs, &main_stack_bottom, &main_stack_size);
#endif
  }

  static void fiber_entry() {
    Scheduler* s = t_sched;
#ifdef DLCORE_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &s->main_stack_bottom, &s->main_stack_size);
#endif
    Fiber& f = *s->cur;
    try {
      s->body(s->ctx);
      s->flush_cp(f, 0, true);
    } catch (const std::exception& e) {
      s->fail(std::string("a C++ exception escaped the kernel: ") + e.what());
    } catch (...) {
      s->fail("a C++ exception escaped the kernel");
    }
    f.st = St::Exited;
    ++s->n_exited;
    s->yield_to_main();
    std::abort();  // an exited fiber is never resumed
  }

  void init_fiber(Fiber& f, int linear) {
    f.linear = linear;
    f.tid = uint3{(unsigned)(linear % blockDim.x), (unsigned)((linear / blockDim.x) % blockDim.y),
                  (unsigned)(linear / (blockDim.x * blockDim.y))};
    f.st = St::Ready;
    f.cp_pending.clear();
    f.cp_ends.clear();
#ifdef DLCORE_EMU_ASAN
    // A reused stack still carries the redzones of the frames its last fiber left without returning (a fiber never
    // unwinds: it switches away for good); clear them, or the first push below reads as a stack-buffer-overflow.
    ASAN_UNPOISON_MEMORY_REGION(f.stack, f.stack_size);
#endif
    if (use_uc) {
      getcontext(&f.uc);
      f.uc.uc_stack.ss_sp = f.stack;
      f.uc.uc_stack.ss_size = f.stack_size;
      f.uc.uc_link = nullptr;
      makecontext(&f.uc, (void (*)())&Scheduler::fiber_entry, 0);
      return;
    }
#ifdef DLCORE_EMU_HAVE_ASM
    // top (16-aligned): [top-8] 0 (fake return address of fiber_entry), [top-16] &fiber_entry, then rbp, rbx,
    // r12..r15 (zero), then MXCSR and x87 control word. After `ret`, rsp = top-8 (== 8 mod 16, as after a call).
    uintptr_t top = (reinterpret_cast<uintptr_t>(f.stack) + f.stack_size) & ~(uintptr_t)15;
    uint64_t* sp = reinterpret_cast<uint64_t*>(top);
    *--sp = 0;
    *--sp = reinterpret_cast<uint64_t>(&Scheduler::fiber_entry);
    for (int i = 0; i < 6; ++i) *--sp = 0;
    *--sp = csr;
    f.sp = sp;
#endif
  }

  // ---- errors ----
  void fail(const std::string& what) {
    if (!failed) {
      failed = true;
      error = what;
    }
  }
  // From inside a fiber: record the error and leave for good.
  [[noreturn]] void fail_in_fiber(const std::string& what) {
    fail(thread_desc(*cur) + ": " + what);
    cur->st = St::Exited;
    ++n_exited;
    yield_to_main();
    std::abort();
  }
  std::string thread_desc(const Fiber& f) const {
    return detail::str_cat("thread (", f.tid.x, ",", f.tid.y, ",", f.tid.z, ") [warp ", f.linear / 32, " lane ",
                           f.linear % 32, "]");
  }
  std::string where() const {
    return detail::str_cat("cuda emulator: kernel ", kernel, ", block (", block.x, ",", block.y, ",", block.z, ")");
  }

  // ---- cp.async ----
  // Performs the pending copies of all committed groups but the newest `keep` (and, at exit, everything).
  void flush_cp(Fiber& f, int keep, bool all) {
    std::size_t upto;
    if (all) {
      upto = f.cp_pending.size();
      f.cp_ends.clear();
    } else {
      if ((int)f.cp_ends.size() <= keep) return;
      std::size_t ngroups = f.cp_ends.size() - keep;
      upto = f.cp_ends[ngroups - 1];
      f.cp_ends.erase(f.cp_ends.begin(), f.cp_ends.begin() + ngroups);
      for (auto& e : f.cp_ends) e -= upto;
    }
    for (std::size_t i = 0; i < upto; ++i) {
      const CpOp& op = f.cp_pending[i];
      if (op.src_bytes > 0) std::memcpy(op.dst, op.src, op.src_bytes);
      if (op.bytes > op.src_bytes) std::memset(static_cast<char*>(op.dst) + op.src_bytes, 0, op.bytes - op.src_bytes);
    }
    f.cp_pending.erase(f.cp_pending.begin(), f.cp_pending.begin() + upto);
  }

  // ---- resolution ----
  static const char* op_label(WarpOpKind k) {
    switch (k) {
      case WarpOpKind::Shfl: return "__shfl_sync";
      case WarpOpKind::ShflUp: return "__shfl_up_sync";
      case WarpOpKind::ShflDown: return "__shfl_down_sync";
      case WarpOpKind::ShflXor: return "__shfl_xor_sync";
      case WarpOpKind::Ballot: return "__ballot_sync";
      case WarpOpKind::Any: return "__any_sync";
      case WarpOpKind::All: return "__all_sync";
      case WarpOpKind::SyncWarp: return "__syncwarp";
      default: return "a warp collective";
    }
  }

  void compute_warp(int w, unsigned mask) {
    Fiber* lanes[32] = {};
    int base = w * 32;
    for (int l = 0; l < 32; ++l)
      if ((mask >> l) & 1u) lanes[l] = &fibers[base + l];
    Fiber& any = *lanes[__builtin_ctz(mask)];
    WarpOpKind k = any.wop;
    ++local.warp_ops;
    if (k == WarpOpKind::Collective) {
      void* data[32] = {};
      for (int l = 0; l < 32; ++l)
        if (lanes[l]) data[l] = lanes[l]->coll_data;
      any.coll_fn(data, mask);
    } else if (k == WarpOpKind::Ballot || k == WarpOpKind::Any || k == WarpOpKind::All) {
      unsigned bits = 0;
      for (int l = 0; l < 32; ++l)
        if (lanes[l] && lanes[l]->value) bits |= 1u << l;
      uint64_t r = k == WarpOpKind::Ballot ? bits : (k == WarpOpKind::Any ? bits != 0 : bits == mask);
      for (int l = 0; l < 32; ++l)
        if (lanes[l]) lanes[l]->result = r;
    } else if (k != WarpOpKind::SyncWarp) {
      for (int l = 0; l < 32; ++l) {
        Fiber* f = lanes[l];
        if (!f) continue;
        int width = f->width;
        int sub = (l / width) * width;  // first lane of this lane's segment
        int src;
        switch (k) {
          case WarpOpKind::Shfl: src = sub + (f->param & (width - 1)); break;
          case WarpOpKind::ShflUp: src = (l - f->param >= sub) ? l - f->param : l; break;
          case WarpOpKind::ShflDown: src = (l + f->param < sub + width) ? l + f->param : l; break;
          default: src = l ^ f->param; if (src >= sub + width) src = l; break;  // xor: later segments -> own value
        }
        if (src < 0 || src > 31 || !((mask >> src) & 1u)) f->result = ~uint64_t(0);  // outside the mask: poison
        else f->result = lanes[src]->value;
      }
    }
    for (int l = 0; l < 32; ++l)
      if (lanes[l]) {
        lanes[l]->st = St::Ready;
        --n_warp;
      }
  }

  // Resolves every warp collective that can be; returns true when some lane became ready. Fails on bad masks.
  bool resolve_warps() {
    bool progress = false;
    int nwarps = (nthreads + 31) / 32;
    for (int w = 0; w < nwarps; ++w) {
      int base = w * 32;
      int nl = std::min(32, nthreads - base);
      unsigned done = 0;
      for (int l = 0; l < nl; ++l) {
        Fiber& f = fibers[base + l];
        if (f.st != St::Warp || ((done >> l) & 1u)) continue;
        unsigned m = f.mask;
        if (!((m >> l) & 1u)) {
          fail(detail::str_cat(thread_desc(f), " calls ", f.wname, " with mask 0x", std::hex, m, std::dec,
                               ", which does not include its own lane ", l));
          return false;
        }
        bool ready = true;
        for (int j = 0; j < 32 && ready; ++j) {
          if (!((m >> j) & 1u)) continue;
          if (j >= nl) {
            fail(detail::str_cat(thread_desc(f), " calls ", f.wname, " with mask 0x", std::hex, m, std::dec,
                                 ", which names lane ", j, " that does not exist (the block has ", nthreads,
                                 " threads)"));
            return false;
          }
          Fiber& g = fibers[base + j];
          if (g.st == St::Exited) {
            fail(detail::str_cat(thread_desc(f), " calls ", f.wname, " with mask 0x", std::hex, m, std::dec,
                                 ", which names lane ", j, " (", thread_desc(g),
                                 ") that has already exited: the collective can never complete"));
            return false;
          }
          if (g.st != St::Warp) {
            ready = false;  // lane j is at a barrier: maybe a deadlock, decided by the caller
            break;
          }
          if (g.mask != m || g.wop != f.wop || (f.wop == WarpOpKind::Collective && g.coll_fn != f.coll_fn)) {
            fail(detail::str_cat("lanes disagree: ", thread_desc(f), " waits at ", f.wname, " with mask 0x",
                                 std::hex, m, " while ", thread_desc(g), " waits at ", g.wname, " with mask 0x", g.mask,
                                 std::dec));
            return false;
          }
        }
        if (!ready) continue;
        compute_warp(w, m);
        done |= m;
        progress = true;
      }
    }
    return progress;
  }

  std::string describe_waits() const {
    std::string bar, warp;
    int nb = 0, nw = 0;
    for (int i = 0; i < nthreads; ++i) {
      const Fiber& f = fibers[i];
      if (f.st == St::Barrier && nb++ < 4) bar += (bar.empty() ? "" : ", ") + std::to_string(i);
      if (f.st == St::Warp && nw++ < 4)
        warp += detail::str_cat(warp.empty() ? "" : ", ", i, " (", f.wname, " mask 0x", std::hex, f.mask, std::dec,
                                ")");
    }
    return detail::str_cat(nb, " thread(s) wait at __syncthreads (", bar, nb > 4 ? ", ..." : "", ") while ", nw,
                           " wait at warp collectives (", warp, nw > 4 ? ", ..." : "", ")");
  }

  void build_order(int kind) {
    order.resize(nthreads);
    if (kind == 1) {
      for (int i = 0; i < nthreads; ++i) order[i] = nthreads - 1 - i;
    } else {
      std::iota(order.begin(), order.end(), 0);
      if (kind == 2) std::shuffle(order.begin(), order.end(), rng);
    }
  }

  void run_block(int kind) {
    for (int i = 0; i < nthreads; ++i) init_fiber(fibers[i], i);
    n_exited = n_warp = 0;
    if (smem_size) std::memset(smem, 0xff, smem_size);
    if (kind == 2 || (int)order.size() != nthreads) build_order(kind);
    for (;;) {
      for (int idx : order) {
        Fiber& f = fibers[idx];
        if (f.st != St::Ready) continue;
        switch_to(f);
        if (failed) return;
      }
      if (n_exited == nthreads) return;
      if (n_warp > 0 && resolve_warps()) {
        if (kind == 2) std::shuffle(order.begin(), order.end(), rng);
        continue;
      }
      if (failed) return;
      bool all_barrier = true;
      int count = 0;
      for (int i = 0; i < nthreads; ++i) {
        const Fiber& f = fibers[i];
        if (f.st == St::Warp) all_barrier = false;
        if (f.st == St::Barrier) count += f.pred;
      }
      if (!all_barrier) {
        fail("deadlock: " + describe_waits());
        return;
      }
      ++local.barriers;
      for (int i = 0; i < nthreads; ++i) {
        Fiber& f = fibers[i];
        if (f.st == St::Barrier) {
          f.bar_result = count;
          f.st = St::Ready;
        }
      }
      if (kind == 2) std::shuffle(order.begin(), order.end(), rng);
    }
  }
};

Scheduler& sched_for_fiber(const char* what) {
  Scheduler* s = t_sched;
  if (!s || !s->cur) {
    std::fprintf(stderr, "dlcore cuda emulator: %s called outside a kernel\n", what);
    std::abort();
  }
  return *s;
}

}  // namespace

// ------------------------------------------------------------------------------------------------ device side

int syncthreads(int pred) {
  Scheduler& s = sched_for_fiber("__syncthreads");
  Fiber& f = *s.cur;
  f.pred = pred;
  f.st = St::Barrier;
  s.yield_to_main();
  return f.bar_result;
}

uint64_t warp_op(WarpOpKind kind, unsigned mask, uint64_t value, int param, int width, const char* name) {
  Scheduler& s = sched_for_fiber(name);
  Fiber& f = *s.cur;
  if (width <= 0 || width > 32 || (width & (width - 1)))
    s.fail_in_fiber(detail::str_cat(name, ": width ", width, " is not a power of two in [1, 32]"));
  f.wop = kind;
  f.wname = name;
  f.mask = mask;
  f.value = value;
  f.param = param;
  f.width = width;
  f.st = St::Warp;
  ++s.n_warp;
  s.yield_to_main();
  return f.result;
}

void warp_collective(unsigned mask, void* data, void (*fn)(void**, unsigned), const char* name) {
  Scheduler& s = sched_for_fiber(name);
  Fiber& f = *s.cur;
  f.wop = WarpOpKind::Collective;
  f.wname = name;
  f.mask = mask;
  f.coll_data = data;
  f.coll_fn = fn;
  f.st = St::Warp;
  ++s.n_warp;
  s.yield_to_main();
}

unsigned activemask() {
  Scheduler& s = sched_for_fiber("__activemask");
  int base = (s.cur->linear / 32) * 32;
  unsigned m = 0;
  for (int l = 0; l < 32 && base + l < s.nthreads; ++l)
    if (s.fibers[base + l].st != St::Exited) m |= 1u << l;
  return m;
}

int lane_id() { return sched_for_fiber("lane_id").cur->linear % 32; }

unsigned char* dynamic_smem() { return sched_for_fiber("dynamic shared memory").smem; }
std::size_t dynamic_smem_size() { return sched_for_fiber("dynamic shared memory").smem_size; }

void trap(const char* what) { sched_for_fiber("__trap").fail_in_fiber(what); }

void cp_async(void* dst, const void* src, int bytes, int src_bytes) {
  Scheduler& s = sched_for_fiber("cp.async");
  if (!(bytes == 4 || bytes == 8 || bytes == 16) || src_bytes < 0 || src_bytes > bytes)
    s.fail_in_fiber(detail::str_cat("cp.async of ", bytes, " bytes (", src_bytes,
                                    " from the source): the size must be 4, 8 or 16"));
  if ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src)) % bytes)
    s.fail_in_fiber(detail::str_cat("cp.async of ", bytes, " bytes from a misaligned address (dst ", dst, ", src ",
                                    src, ")"));
  s.cur->cp_pending.push_back(CpOp{dst, src, bytes, src_bytes});
}
void cp_async_commit() {
  Scheduler& s = sched_for_fiber("cp.async.commit_group");
  s.cur->cp_ends.push_back(s.cur->cp_pending.size());
}
void cp_async_wait(int n) {
  Scheduler& s = sched_for_fiber("cp.async.wait_group");
  s.flush_cp(*s.cur, n, false);
}

// ------------------------------------------------------------------------------------------------ host side

void run_grid(const char* kernel, const GridDims& d, std::size_t dynamic_smem, void (*body)(void*), void* ctx) {
  uint64_t nthreads = (uint64_t)d.bx * d.by * d.bz;
  uint64_t nblocks = (uint64_t)d.gx * d.gy * d.gz;
  DLCORE_CHECK(nthreads >= 1 && nthreads <= 1024 && d.bz <= 64, RuntimeError, "cuda: launch of kernel ", kernel,
               " failed: invalid configuration: a block of (", d.bx, ",", d.by, ",", d.bz, ") = ", nthreads,
               " threads (a block holds 1 to 1024 threads, z at most 64)");
  DLCORE_CHECK(nblocks >= 1 && d.gx < (1u << 31) && d.gy < 65536 && d.gz < 65536, RuntimeError,
               "cuda: launch of kernel ", kernel, " failed: invalid configuration: a grid of (", d.gx, ",", d.gy, ",",
               d.gz, ") blocks (each size at least 1; y and z below 65536)");
  DLCORE_CHECK(dynamic_smem <= 227 * 1024, RuntimeError, "cuda: launch of kernel ", kernel, " failed: ",
               dynamic_smem, " bytes of dynamic shared memory requested; a block can have at most 227 KiB");
  Config cfg;
  {
    std::lock_guard<std::mutex> g(g_cfg_mutex);
    cfg = config();
  }
  if (!t_sched) t_sched = new Scheduler();  // per OS thread, kept (stacks are reused)
  Scheduler& s = *t_sched;
  DLCORE_CHECK(!s.cur, RuntimeError, "cuda emulator: kernel ", kernel, " launched from inside a kernel");
  s.use_uc = cfg.ucontext;
  s.stack_bytes = cfg.stack_bytes;
  s.ensure_fibers((int)nthreads);
  s.kernel = kernel;
  s.nthreads = (int)nthreads;
  s.body = body;
  s.ctx = ctx;
  s.failed = false;
  s.error.clear();
  s.local = Stats();
  s.order.clear();  // rebuilt for this launch's block size and order
#ifdef DLCORE_EMU_HAVE_ASM
  {
    uint32_t csr[2];
    asm volatile("stmxcsr %0" : "=m"(csr[0]));
    asm volatile("fnstcw %0" : "=m"(csr[1]));
    std::memcpy(&s.csr, csr, 8);
  }
#endif
  if (dynamic_smem > s.smem_cap) {
    std::free(s.smem);
    s.smem_cap = (dynamic_smem + 255) & ~std::size_t(255);
    s.smem = static_cast<unsigned char*>(std::aligned_alloc(128, s.smem_cap));
  }
  s.smem_size = dynamic_smem;
  {
    std::lock_guard<std::mutex> g(g_cfg_mutex);
    // Each launch gets its own random stream, reproducible for a given sequence of launches.
    s.rng.seed(config().seed + 0x9e3779b97f4a7c15ull * (g_stats.launches + 1));
  }
  blockDim = uint3{d.bx, d.by, d.bz};
  gridDim = uint3{d.gx, d.gy, d.gz};
  for (unsigned bz = 0; bz < d.gz; ++bz)
    for (unsigned by = 0; by < d.gy; ++by)
      for (unsigned bx = 0; bx < d.gx; ++bx) {
        blockIdx = uint3{bx, by, bz};
        s.block = blockIdx;
        s.run_block(cfg.kind);
        if (s.failed) {
          std::string msg = s.where() + ": " + s.error;
          s.failed = false;
          DLCORE_THROW(RuntimeError, msg);
        }
      }
  s.local.launches = 1;
  s.local.blocks = nblocks;
  s.local.threads = nblocks * nthreads;
  std::lock_guard<std::mutex> g(g_stats_mutex);
  g_stats.launches += 1;
  g_stats.blocks += s.local.blocks;
  g_stats.threads += s.local.threads;
  g_stats.switches += s.local.switches;
  g_stats.barriers += s.local.barriers;
  g_stats.warp_ops += s.local.warp_ops;
}

void set_schedule(const std::string& spec) {
  Config& c = config();
  std::lock_guard<std::mutex> g(g_cfg_mutex);
  if (spec == "forward") c.kind = 0;
  else if (spec == "reverse") c.kind = 1;
  else if (spec == "random") c.kind = 2;
  else if (spec.rfind("random:", 0) == 0 && spec.size() > 7 &&
           spec.find_first_not_of("0123456789", 7) == std::string::npos) {
    c.kind = 2;
    c.seed = std::stoull(spec.substr(7));
  } else {
    DLCORE_THROW(ValueError, "cuda emulator schedule: expected 'forward', 'reverse', 'random' or 'random:SEED', got '",
                 spec, "'");
  }
}

std::string get_schedule() {
  Config& c = config();
  std::lock_guard<std::mutex> g(g_cfg_mutex);
  if (c.kind == 0) return "forward";
  if (c.kind == 1) return "reverse";
  return "random:" + std::to_string(c.seed);
}

const char* context_kind() { return config().ucontext ? "ucontext" : "asm"; }

Stats stats() {
  std::lock_guard<std::mutex> g(g_stats_mutex);
  return g_stats;
}
void reset_stats() {
  std::lock_guard<std::mutex> g(g_stats_mutex);
  g_stats = Stats();
}

}  // namespace dlcore::emu
