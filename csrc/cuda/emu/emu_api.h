// The SIMT emulator's host side: running a grid, choosing the thread order, statistics. Plain C++ (no CUDA
// keywords), so host files and bindings may include it. The device side (what kernels see) is emu/simt.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace dlcore::emu {

struct GridDims {
  unsigned gx = 1, gy = 1, gz = 1;  // blocks
  unsigned bx = 1, by = 1, bz = 1;  // threads per block
};

// Runs body(ctx) once per thread of every block (blocks in order, one at a time, each block's threads as fibers).
// Raises dlcore::RuntimeError naming the kernel (and block/thread) on a launch configuration error, a deadlock, a
// bad warp mask or a __trap.
void run_grid(const char* kernel, const GridDims& dims, std::size_t dynamic_smem, void (*body)(void*), void* ctx);

// Thread order: "forward", "reverse", "random" or "random:SEED". The default comes from DLCORE_SIMT_SCHEDULE
// (else forward). Raises ValueError for anything else.
void set_schedule(const std::string& spec);
std::string get_schedule();

// The context-switch implementation in use: "asm" (x86-64 routine) or "ucontext" (portable fallback, also chosen
// by DLCORE_SIMT_CONTEXT=ucontext).
const char* context_kind();

struct Stats {
  uint64_t launches = 0, blocks = 0, threads = 0, switches = 0, barriers = 0, warp_ops = 0;
};
Stats stats();
void reset_stats();

}  // namespace dlcore::emu
