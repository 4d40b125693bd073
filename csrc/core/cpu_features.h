// CPU feature detection (cpuid + xgetbv) and the run-time ISA choice for CPU kernels.
// The active ISA is the best the CPU and OS support, lowered by DLCORE_ISA=scalar|avx2|avx512 or set_cpu_isa();
// tests pin each ISA in turn so the scalar and AVX2 paths stay tested on an AVX-512 machine.
#pragma once
#include <string>

namespace dlcore {

enum class Isa : int { Scalar = 0, AVX2 = 1, AVX512 = 2 };
constexpr int kNumIsas = 3;

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false, avx512bf16 = false;
  bool os_avx = false, os_avx512 = false;  // XSAVE state enabled by the OS
  std::string vendor, brand;
  int family = 0;  // cpuid family (base + extended)
  // Per-core data cache sizes in bytes and L1D associativity (glibc's reading of cpuid leaf 4 / 0x8000001D);
  // 32 KiB / 1 MiB / 8-way when the OS does not say. The GEMM block sizes are derived from them (gemm_driver.h).
  long l1d = 32768, l2 = 1048576, l1d_ways = 8;
  // Whether a 512-bit FMA issues at the rate of a 256-bit one (full-width units: Intel cores, AMD from Zen 5),
  // so that zmm kernels have twice the peak of ymm ones; false on Zen 4 (512-bit ops as two 256-bit halves).
  bool fma512_full = false;
};

const CpuFeatures& cpu_features();
Isa cpu_isa_supported();
Isa cpu_isa();           // the active ISA (cheap: one relaxed atomic load)
void set_cpu_isa(Isa);   // raises ValueError when the CPU does not support it
const char* isa_name(Isa);
Isa parse_isa(const std::string& s);  // "scalar" | "avx2" | "avx512"; raises ValueError

// Fills a per-ISA array of tables: the scalar entry always; the AVX2 and AVX-512 entries only on a CPU that runs
// that ISA. Each fill function lives in a file compiled with its ISA's flags and may itself use that ISA's
// instructions (GCC merged eight function-pointer stores of an AVX-512 fill into one 512-bit vinserti64x4: a
// SIGILL on an AVX2-only CPU, seen under valgrind, which has no AVX-512), so it must not run where the ISA is
// missing. An entry the CPU cannot run is a copy of the entry below it (never selected: cpu_isa() <= supported).
template <class Table>
void fill_isa_tables(Table (&isa)[kNumIsas], void (*scalar)(Table&), void (*avx2)(Table&), void (*avx512)(Table&)) {
  scalar(isa[(int)Isa::Scalar]);
  const int s = (int)cpu_isa_supported();
  if (s >= (int)Isa::AVX2) avx2(isa[(int)Isa::AVX2]);
  else isa[(int)Isa::AVX2] = isa[(int)Isa::Scalar];
  if (s >= (int)Isa::AVX512) avx512(isa[(int)Isa::AVX512]);
  else isa[(int)Isa::AVX512] = isa[(int)Isa::AVX2];
}

// A per-ISA table of kernel function pointers: get() returns the active ISA's entry, or the best lower one.
template <class Fn>
struct IsaTable {
  Fn* fn[kNumIsas] = {};
  Fn* get() const {
    for (int i = (int)cpu_isa(); i >= 0; --i)
      if (fn[i]) return fn[i];
    return nullptr;
  }
  Fn* get(Isa isa) const {
    for (int i = (int)isa; i >= 0; --i)
      if (fn[i]) return fn[i];
    return nullptr;
  }
};

}  // namespace dlcore
