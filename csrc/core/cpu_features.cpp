#include "core/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <unistd.h>

#include "core/errors.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define DLCORE_X86 1
#endif

namespace dlcore {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#ifdef DLCORE_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  unsigned max_leaf = a;
  char vendor[13];
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  vendor[12] = 0;
  f.vendor = vendor;
  __get_cpuid(1, &a, &b, &c, &d);
  bool osxsave = c & (1u << 27);
  bool avx = c & (1u << 28);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  if (osxsave && avx) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    f.os_avx = (lo & 0x6) == 0x6;              // XMM and YMM state
    f.os_avx512 = f.os_avx && (lo & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
  }
  {
    unsigned fam = (a >> 8) & 0xf;
    if (fam == 0xf) fam += (a >> 20) & 0xff;
    f.family = (int)fam;
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512bf16 = a & (1u << 5);
  }
  unsigned ext = __get_cpuid_max(0x80000000u, nullptr);
  if (ext >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002u + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
  }
#endif
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
  // Sanity bounds: a virtual machine may report nonsense (0, or a whole socket's cache).
  long l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (l1 >= 16384 && l1 <= 262144) f.l1d = l1;
  if (l2 >= 262144 && l2 <= 8388608) f.l2 = l2;
#endif
  f.fma512_full = f.avx512f && (f.vendor == "GenuineIntel" || (f.vendor == "AuthenticAMD" && f.family >= 0x1a));
#if defined(_SC_LEVEL1_DCACHE_ASSOC)
  long ways = sysconf(_SC_LEVEL1_DCACHE_ASSOC);
  if (ways >= 2 && ways <= 32) f.l1d_ways = ways;
#endif
  return f;
}

Isa detect_supported() {
  const CpuFeatures& f = cpu_features();
  if (f.os_avx512 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx2 && f.fma) return Isa::AVX512;
  if (f.os_avx && f.avx2 && f.fma) return Isa::AVX2;
  return Isa::Scalar;
}

int initial_isa() {
  Isa best = detect_supported();
  if (const char* env = std::getenv("DLCORE_ISA")) {
    if (*env) {
      Isa want = parse_isa(env);  // a bad value raises at import, naming the variable
      if ((int)want < (int)best) return (int)want;
    }
  }
  return (int)best;
}

std::atomic<int>& active_isa() {
  static std::atomic<int> isa{initial_isa()};
  return isa;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa cpu_isa_supported() {
  static const Isa s = detect_supported();
  return s;
}

Isa cpu_isa() { return (Isa)active_isa().load(std::memory_order_relaxed); }

void set_cpu_isa(Isa isa) {
  DLCORE_CHECK((int)isa <= (int)cpu_isa_supported(), ValueError, "set_cpu_isa: this CPU does not support ",
               isa_name(isa), " (best supported: ", isa_name(cpu_isa_supported()), ")");
  active_isa().store((int)isa);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::AVX2: return "avx2";
    case Isa::AVX512: return "avx512";
  }
  return "?";
}

Isa parse_isa(const std::string& s) {
  if (s == "scalar") return Isa::Scalar;
  if (s == "avx2") return Isa::AVX2;
  if (s == "avx512") return Isa::AVX512;
  DLCORE_THROW(ValueError, "DLCORE_ISA / set_cpu_isa: unknown ISA '", s, "' (expected scalar, avx2 or avx512)");
}

}  // namespace dlcore
