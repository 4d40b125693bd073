// FMA peak of this machine: each thread runs independent chains of fused multiply-adds on registers only
// (no memory traffic), for the vector width given. Prints one JSON line:
//   {"threads": T, "width": W, "gflops": G, "per_thread": [..]}
// Build: g++ -O2 -mavx512f -mfma -pthread bench/fma_peak.cpp -o fma_peak   (bench/gemm.py does it)
// Usage: fma_peak [threads=1] [width=512|256] [seconds=0.3]
#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

template <class R, R (*Fma)(R, R, R), R (*Set1)(float)>
static double run_chains(double seconds, int lanes) {
  // 12 independent accumulators: more than FMA latency (4) x issue width (2), so the loop is throughput-bound.
  R a0 = Set1(1.0f), a1 = Set1(1.1f), a2 = Set1(1.2f), a3 = Set1(1.3f), a4 = Set1(1.4f), a5 = Set1(1.5f);
  R a6 = Set1(1.6f), a7 = Set1(1.7f), a8 = Set1(1.8f), a9 = Set1(1.9f), a10 = Set1(2.0f), a11 = Set1(2.1f);
  const R x = Set1(0.999999f), y = Set1(1e-7f);
  long iters = 0;
  auto t0 = std::chrono::steady_clock::now();
  double el = 0;
  do {
    for (int i = 0; i < 4096; ++i) {
      a0 = Fma(a0, x, y); a1 = Fma(a1, x, y); a2 = Fma(a2, x, y); a3 = Fma(a3, x, y);
      a4 = Fma(a4, x, y); a5 = Fma(a5, x, y); a6 = Fma(a6, x, y); a7 = Fma(a7, x, y);
      a8 = Fma(a8, x, y); a9 = Fma(a9, x, y); a10 = Fma(a10, x, y); a11 = Fma(a11, x, y);
      __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
      __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    iters += 4096;
    el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } while (el < seconds);
  volatile float sink = ((float*)&a0)[0] + ((float*)&a11)[0];
  (void)sink;
  return 2.0 * 12 * lanes * (double)iters / el * 1e-9;  // GFLOP/s
}

static __m512 fma512(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
static __m512 set512(float v) { return _mm512_set1_ps(v); }
static __m256 fma256(__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); }
static __m256 set256(float v) { return _mm256_set1_ps(v); }

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  int width = argc > 2 ? std::atoi(argv[2]) : 512;
  double seconds = argc > 3 ? std::atof(argv[3]) : 0.3;
  std::vector<double> g(threads);
  std::vector<std::thread> ts;
  std::atomic<int> ready{0};
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      g[t] = width == 512 ? run_chains<__m512, fma512, set512>(seconds, 16) : run_chains<__m256, fma256, set256>(seconds, 8);
    });
  for (auto& t : ts) t.join();
  double total = 0;
  std::string per;
  for (int t = 0; t < threads; ++t) {
    total += g[t];
    per += (t ? ", " : "") + std::to_string(g[t]);
  }
  std::printf("{\"threads\": %d, \"width\": %d, \"gflops\": %.1f, \"per_thread\": [%s]}\n", threads, width, total,
              per.c_str());
}
