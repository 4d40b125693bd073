// bfloat16 GEMM on the CPU with AVX512-BF16 (vdpbf16ps): C (float32) = A (bf16, M x K) @ B (bf16, K x N).
// Compiled with the AVX-512 flags plus -mavx512bf16 (CMake: *_avx512bf16.cpp); run only where cpuid reports
// AVX512_BF16 and the active ISA is avx512 (bf16_gemm_available()). Without it, bfloat16 matmul on the CPU runs
// through the float32 GEMM on float32 copies (python/dlcore/_lowp.py): same results up to summation order.
//
// The instruction: vdpbf16ps acc, a, b adds, in each of the 16 float32 lanes j, a[2j] b[2j] + a[2j+1] b[2j+1] -
// a dot product of pairs along k (products of bf16 values are exact in float32; two float32 additions, round to
// nearest even; denormal inputs and outputs are flushed to zero). One instruction is 32 multiply-adds: twice the
// work of a float32 FMA, and Zen 5 issues two per cycle (torch/oneDNN's bf16 matmul runs at ~470 GFLOP/s per core
// here against ~240 for the float32 GEMM).
//
// The five loops, as the float32 driver (gemm_driver.h), over k-pairs instead of k:
//   loop 5  jc over N in steps of NC   B block KC x NC packed once per (jc, pc) (KC x NC bf16 = 768 KiB: L2)
//   loop 4  pc over K in steps of KC
//   loop 3  ic over M in steps of MC   A block MC x KC packed into MR-row micro-panels
//   loop 2  ir over MC in steps of MR  A micro-panel MR x KC (12 KiB) stays in L1
//   loop 1  jr over NC in steps of NR  B micro-panel KC x NR (32 KiB) streamed from L2
//   microkernel: MR x NR = 12 x 32 float32 accumulators (24 zmm), per k-pair 2 B loads, 12 A-pair broadcasts and
//   24 vdpbf16ps. Edge tiles (m < MR rows, n < NR columns) compute into a 12 x 32 temporary (B panels are
//   zero-padded past N, pairs zero-padded past an odd K).
// Packed layouts (uint16 elements):
//   A panel: Ap[(p * MR + i) * 2 + t] = A[i, 2p + t]     (row i's pair p: one 32-bit broadcast)
//   B panel: Bp[(p * NR + j) * 2 + t] = B[2p + t, j]     (16 columns' pairs p: one zmm)
// Threads: C is cut into column (or row) ranges, one per thread, each with its own packing buffers.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/parallel.h"
#include "core/simd_transpose.h"
#include "core/x86_intrin.h"
#include "ops/gemm/gemm_bf16.h"
#include "ops/gemm/gemm_kernel.h"

namespace dlcore {
namespace gemm_bf16 {
namespace {

constexpr int MR = 12, NR = 32;
constexpr int64_t KC = 512, MC = 144, NC = 768;  // KC in k (256 pairs)

inline uint32_t pair_at(const uint16_t* p, int64_t cs, bool have_second) {
  const uint32_t lo = p[0];
  const uint32_t hi = have_second ? p[cs] : 0u;
  return lo | (hi << 16);
}

// ------------------------------------------------------------------------------------------------ packing
// Interleaving two rows of 16-bit values: lanes (r0[j], r1[j]) for j = 0..15 (lo) and 16..31 (hi). (Functions,
// not namespace-scope constants: a static initialiser with AVX-512 would run at load time on any CPU.)
DLCORE_ALWAYS_INLINE __m512i interleave_lo() {
  return _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6, 37, 5, 36, 4,
                          35, 3, 34, 2, 33, 1, 32, 0);
}
DLCORE_ALWAYS_INLINE __m512i interleave_hi() { return _mm512_add_epi16(interleave_lo(), _mm512_set1_epi16(16)); }

// The pairs of `lines` lines that run along k (line l at src + l * ls; a pair is one 32-bit element) ->
// d[p * W + l], the last, odd k zero-padded: 16 lines x 16 pairs per register transpose. (Plain 32-bit copies ran
// linear 256 x 1024 x 1024 at 364 GFLOP/s; a 16-lane gather per pair was slower still, 319.)
inline void pack_pairs(const uint16_t* src, int64_t ls, int lines, int64_t kc, uint32_t* d, int W) {
  const int64_t kp = (kc + 1) / 2, whole = kc / 2;
  for (int l0 = 0; l0 < lines; l0 += 16) {
    const int nl = std::min(16, lines - l0);
    const __mmask16 lmask = (__mmask16)((1u << nl) - 1);
    for (int64_t p0 = 0; p0 < whole; p0 += 16) {
      const int np = (int)std::min<int64_t>(16, whole - p0);
      const __mmask16 pmask = (__mmask16)((1u << np) - 1);
      __m512i r[16];
#pragma GCC unroll 16
      for (int l = 0; l < 16; ++l)
        r[l] = l < nl ? _mm512_maskz_loadu_epi32(pmask, src + (l0 + l) * ls + 2 * p0) : _mm512_setzero_si512();
      transpose16x16(r);
      for (int q = 0; q < np; ++q) _mm512_mask_storeu_epi32(d + (p0 + q) * W + l0, lmask, r[q]);
    }
    if (whole < kp)
      for (int l = 0; l < nl; ++l) d[whole * W + l0 + l] = src[(l0 + l) * ls + 2 * whole];
  }
}

// A block rows [0, mc) x k [0, kc) -> panels of MR rows (rows past mc zero), kp = ceil(kc / 2) pairs.
void pack_a(int64_t mc, int64_t kc, const uint16_t* a, int64_t rs, int64_t cs, uint16_t* dst) {
  const int64_t kp = (kc + 1) / 2;
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int mr = (int)std::min<int64_t>(MR, mc - ir);
    uint32_t* d = reinterpret_cast<uint32_t*>(dst) + (ir / MR) * kp * MR;
    const uint16_t* blk = a + ir * rs;
    if (cs == 1) {  // rows along k (x of a linear layer): pairs adjacent
      pack_pairs(blk, rs, mr, kc, d, MR);
    } else if (rs == 1) {  // A transposed (columns along M): interleave A's columns 2p and 2p + 1, MR rows wide
      const __m512i kLo = interleave_lo();
      const __mmask32 m = (__mmask32)((1u << mr) - 1);
      for (int64_t p = 0; p < kp; ++p) {
        const __m512i r0 = _mm512_maskz_loadu_epi16(m, blk + 2 * p * cs);
        const __m512i r1 = 2 * p + 1 < kc ? _mm512_maskz_loadu_epi16(m, blk + (2 * p + 1) * cs)
                                          : _mm512_setzero_si512();
        _mm512_mask_storeu_epi32(d + p * MR, (__mmask16)0x0fff, _mm512_permutex2var_epi16(r0, kLo, r1));
      }
      continue;  // (rows past mr were loaded as zeros)
    } else {
      for (int i = 0; i < mr; ++i)
        for (int64_t p = 0; p < kp; ++p) d[p * MR + i] = pair_at(blk + i * rs + 2 * p * cs, cs, 2 * p + 1 < kc);
    }
    for (int i = mr; i < MR; ++i)
      for (int64_t p = 0; p < kp; ++p) d[p * MR + i] = 0;
  }
}

// B block k [0, kc) x columns [0, nc) -> panels of NR columns (columns past nc zero).
void pack_b(int64_t kc, int64_t nc, const uint16_t* b, int64_t rs, int64_t cs, uint16_t* dst) {
  const int64_t kp = (kc + 1) / 2;
  const __m512i kLo = interleave_lo(), kHi = interleave_hi();
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int nr = (int)std::min<int64_t>(NR, nc - jr);
    uint32_t* d = reinterpret_cast<uint32_t*>(dst) + (jr / NR) * kp * NR;
    if (cs == 1) {  // rows along N: interleave rows 2p and 2p + 1, 32 columns at a time
      const __mmask32 m = nr == NR ? ~(__mmask32)0 : (((__mmask32)1 << nr) - 1);
      for (int64_t p = 0; p < kp; ++p) {
        const __m512i r0 = _mm512_maskz_loadu_epi16(m, b + 2 * p * rs + jr);
        const __m512i r1 = 2 * p + 1 < kc ? _mm512_maskz_loadu_epi16(m, b + (2 * p + 1) * rs + jr)
                                          : _mm512_setzero_si512();
        _mm512_store_si512(d + p * NR, _mm512_permutex2var_epi16(r0, kLo, r1));
        _mm512_store_si512(d + p * NR + 16, _mm512_permutex2var_epi16(r0, kHi, r1));
      }
      continue;
    }
    if (rs == 1) {  // columns along K (B = W^T of a row-major W): pairs adjacent
      pack_pairs(b + jr * cs, cs, nr, kc, d, NR);
    } else {
      for (int j = 0; j < nr; ++j)
        for (int64_t p = 0; p < kp; ++p) d[p * NR + j] = pair_at(b + (jr + j) * cs + 2 * p * rs, rs, 2 * p + 1 < kc);
    }
    for (int j = nr; j < NR; ++j)
      for (int64_t p = 0; p < kp; ++p) d[p * NR + j] = 0;
  }
}

// ------------------------------------------------------------------------------------------------ store
// Where a tile goes. c32: float32 sums carried between KC blocks (K > KC), or the whole result when bf16 is null
// (gemm_bf16_f32). bf16: the bfloat16 result (unit column stride), written at the last KC block with
// v = alpha * sum (+ beta * old) (+ bias) (ReLU), rounded once: no float32 pass over C when K fits one block.
struct Out {
  float* c32;
  int64_t ldc32;
  uint16_t* bf16;
  int64_t ldo;
  float alpha, beta;
  const float* bias;  // PerRow: indexed by row, PerCol: by column (of this call's C)
  BiasKind kind;
  bool relu;
};

// float32 -> bfloat16 bits, round to nearest even, NaN kept quiet: core/dtype.h's BFloat16::from_float
DLCORE_ALWAYS_INLINE __m256i to_bf16(__m512 v) {
  const __m512i x = _mm512_castps_si512(v);
  const __m512i hi = _mm512_srli_epi32(x, 16);
  const __mmask16 nan =
      _mm512_cmpgt_epu32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  __m512i r = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), _mm512_and_si512(hi, _mm512_set1_epi32(1))),
      16);
  r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(hi, _mm512_set1_epi32(0x40)));
  return _mm512_cvtepi32_epi16(r);
}

DLCORE_ALWAYS_INLINE __m512 from_bf16(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16));
}

// 16 results of row m, columns n..n+15: the epilogue and the bfloat16 store
DLCORE_ALWAYS_INLINE void store16(__m512 v, const Out& o, int64_t m, int64_t n) {
  uint16_t* dst = o.bf16 + m * o.ldo + n;
  v = _mm512_mul_ps(_mm512_set1_ps(o.alpha), v);
  if (o.beta != 0.0f) v = _mm512_fmadd_ps(_mm512_set1_ps(o.beta), from_bf16(dst), v);
  if (o.kind == BiasKind::PerRow) v = _mm512_add_ps(v, _mm512_set1_ps(o.bias[m]));
  else if (o.kind == BiasKind::PerCol) v = _mm512_add_ps(v, _mm512_loadu_ps(o.bias + n));
  if (o.relu) v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LE_OQ), v,
                                       _mm512_setzero_ps());  // (NaN compares false: kept)
  _mm256_storeu_si256((__m256i*)dst, to_bf16(v));
}

// one result: the epilogue on v with `old` the output's previous value (read only when beta != 0)
float epilogue1(float v, const Out& o, int64_t m, int64_t n, uint16_t old) {
  v *= o.alpha;
  if (o.beta != 0.0f) v += o.beta * BFloat16::to_float(old);
  if (o.kind == BiasKind::PerRow) v += o.bias[m];
  else if (o.kind == BiasKind::PerCol) v += o.bias[n];
  if (o.relu && !(v > 0.0f)) v = (v != v) ? v : 0.0f;
  return v;
}

// ------------------------------------------------------------------------------------------------ microkernel
// The M x 32 tile at (m0, n0): sums over kp pairs, then by (first, last): c32 = acc | c32 += acc | bf16 store of
// (acc (+ c32)) through the epilogue.
template <int M>
void kernel(int64_t kp, const uint16_t* ap, const uint16_t* bp, const Out& o, int64_t m0, int64_t n0, bool first,
            bool last) {
  __m512 c0[M], c1[M];
#pragma GCC unroll 12
  for (int i = 0; i < M; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
  const uint32_t* a = reinterpret_cast<const uint32_t*>(ap);
  for (int64_t p = 0; p < kp; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(bp + p * NR * 2);
    const __m512bh b1 = (__m512bh)_mm512_load_si512(bp + p * NR * 2 + 32);
#pragma GCC unroll 12
    for (int i = 0; i < M; ++i) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[p * MR + i]);
      c0[i] = _mm512_dpbf16_ps(c0[i], av, b0);
      c1[i] = _mm512_dpbf16_ps(c1[i], av, b1);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < M; ++i) {
    float* ci = o.c32 ? o.c32 + (m0 + i) * o.ldc32 + n0 : nullptr;
    if (!first) {
      c0[i] = _mm512_add_ps(_mm512_loadu_ps(ci), c0[i]);
      c1[i] = _mm512_add_ps(_mm512_loadu_ps(ci + 16), c1[i]);
    }
    if (last && o.bf16) {
      store16(c0[i], o, m0 + i, n0);
      store16(c1[i], o, m0 + i, n0 + 16);
    } else {
      _mm512_storeu_ps(ci, c0[i]);
      _mm512_storeu_ps(ci + 16, c1[i]);
    }
  }
}

using KernFn = void (*)(int64_t, const uint16_t*, const uint16_t*, const Out&, int64_t, int64_t, bool, bool);
constexpr KernFn kKernels[MR] = {&kernel<1>, &kernel<2>, &kernel<3>, &kernel<4>,  &kernel<5>,  &kernel<6>,
                                 &kernel<7>, &kernel<8>, &kernel<9>, &kernel<10>, &kernel<11>, &kernel<12>};

// An edge tile (mr < MR rows in a panel of fewer, or nr < NR columns): the kernel's sums into a temporary, then
// element by element with the same rules.
void edge_tile(KernFn fn, int mr, int nr, int64_t kp, const uint16_t* ap, const uint16_t* bp, const Out& o,
               int64_t m0, int64_t n0, bool first, bool last) {
  alignas(64) float tmp[MR * NR];
  const Out t{tmp, NR, nullptr, 0, 1.0f, 0.0f, nullptr, BiasKind::None, false};
  fn(kp, ap, bp, t, 0, 0, true, false);
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) {
      const int64_t m = m0 + i, n = n0 + j;
      float v = tmp[i * NR + j];
      if (!first) v += o.c32[m * o.ldc32 + n];
      if (last && o.bf16) {
        uint16_t& dst = o.bf16[m * o.ldo + n];
        dst = BFloat16::from_float(epilogue1(v, o, m, n, dst));
      }
      else o.c32[m * o.ldc32 + n] = v;
    }
}

// ------------------------------------------------------------------------------------------------ loops
// One thread's C (rows [0, M), columns [0, N) of this call; o's pointers already offset to them).
void serial(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t rs_a, int64_t cs_a, const uint16_t* B,
            int64_t rs_b, int64_t cs_b, const Out& o) {
  const int64_t kc_max = std::min<int64_t>(KC, (K + 1) / 2 * 2);
  const int64_t kp_max = kc_max / 2;
  const int64_t mc_max = std::min<int64_t>(MC, (M + MR - 1) / MR * MR);
  const int64_t nc_max = std::min<int64_t>(NC, (N + NR - 1) / NR * NR);
  auto* bufA = static_cast<uint16_t*>(gemm_detail::workspace(0, sizeof(uint16_t) * 2 * kp_max * mc_max));
  auto* bufB = static_cast<uint16_t*>(gemm_detail::workspace(1, sizeof(uint16_t) * 2 * kp_max * nc_max));
  for (int64_t jc = 0; jc < N; jc += NC) {  // loop 5
    const int64_t nc = std::min<int64_t>(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += kc_max) {  // loop 4
      const int64_t kc = std::min<int64_t>(kc_max, K - pc), kp = (kc + 1) / 2;
      const bool first = pc == 0, last = pc + kc >= K;
      pack_b(kc, nc, B + pc * rs_b + jc * cs_b, rs_b, cs_b, bufB);
      for (int64_t ic = 0; ic < M; ic += MC) {  // loop 3
        const int64_t mc = std::min<int64_t>(MC, M - ic);
        pack_a(mc, kc, A + ic * rs_a + pc * cs_a, rs_a, cs_a, bufA);
        for (int64_t ir = 0; ir < mc; ir += MR) {  // loop 2
          const int mr = (int)std::min<int64_t>(MR, mc - ir);
          const uint16_t* ap = bufA + (ir / MR) * kp * MR * 2;
          for (int64_t jr = 0; jr < nc; jr += NR) {  // loop 1
            const int nr = (int)std::min<int64_t>(NR, nc - jr);
            const uint16_t* bp = bufB + (jr / NR) * kp * NR * 2;
            if (nr == NR) kKernels[mr - 1](kp, ap, bp, o, ic + ir, jc + jr, first, last);
            else edge_tile(kKernels[mr - 1], mr, nr, kp, ap, bp, o, ic + ir, jc + jr, first, last);
          }
        }
      }
    }
  }
}

// Threads over C's columns (or rows, when it has more row tiles), each with its own packing buffers.
void run(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t rs_a, int64_t cs_a, const uint16_t* B,
         int64_t rs_b, int64_t cs_b, const Out& o, int threads) {
  int nt = threads > 0 ? threads : get_num_threads();
  if ((double)M * N * K < 1e6) nt = 1;  // below ~2 Mflop the split costs more than it saves
  const int64_t ncols = (N + NR - 1) / NR, nrows = (M + MR - 1) / MR;
  const bool by_cols = ncols >= nrows;
  nt = (int)std::min<int64_t>(nt, by_cols ? ncols : nrows);
  if (nt <= 1) return serial(M, N, K, A, rs_a, cs_a, B, rs_b, cs_b, o);
  parallel_for(0, nt, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      Out p = o;
      if (by_cols) {
        const int64_t j0 = ncols * t / nt * NR, j1 = std::min<int64_t>(N, ncols * (t + 1) / nt * NR);
        if (j1 <= j0) continue;
        if (p.c32) p.c32 += j0;
        if (p.bf16) p.bf16 += j0;
        if (p.kind == BiasKind::PerCol) p.bias += j0;
        serial(M, j1 - j0, K, A, rs_a, cs_a, B + j0 * cs_b, rs_b, cs_b, p);
      } else {
        const int64_t i0 = nrows * t / nt * MR, i1 = std::min<int64_t>(M, nrows * (t + 1) / nt * MR);
        if (i1 <= i0) continue;
        if (p.c32) p.c32 += i0 * p.ldc32;
        if (p.bf16) p.bf16 += i0 * p.ldo;
        if (p.kind == BiasKind::PerRow) p.bias += i0;
        serial(i1 - i0, N, K, A + i0 * rs_a, rs_a, cs_a, B, rs_b, cs_b, p);
      }
    }
  });
}

}  // namespace

int64_t kc_block() { return KC; }

void bf16_arith(int op, const uint16_t* a, const uint16_t* b, float scalar, uint16_t* out, int64_t n) {
  auto f = [op](__m512 x, __m512 y) {
    switch (op) {
      case 0: return _mm512_add_ps(x, y);
      case 1: return _mm512_sub_ps(x, y);
      case 2: return _mm512_mul_ps(x, y);
      default: return _mm512_div_ps(x, y);
    }
  };
  const __m512 ys = _mm512_set1_ps(scalar);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i*)(out + i), to_bf16(f(from_bf16(a + i), b ? from_bf16(b + i) : ys)));
  for (; i < n; ++i) {
    const float x = BFloat16::to_float(a[i]), y = b ? BFloat16::to_float(b[i]) : scalar;
    const float r = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
    out[i] = BFloat16::from_float(r);
  }
}

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, from_bf16(src + i));
  for (; i < n; ++i) dst[i] = BFloat16::to_float(src[i]);
}

void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i*)(dst + i), to_bf16(_mm512_loadu_ps(src + i)));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm256_mask_storeu_epi16(dst + i, m, to_bf16(_mm512_maskz_loadu_ps(m, src + i)));
  }
}

void gemm_bf16_f32(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t rs_a, int64_t cs_a,
                   const uint16_t* B, int64_t rs_b, int64_t cs_b, float* C, int64_t ldc, int threads) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t m = 0; m < M; ++m) std::fill(C + m * ldc, C + m * ldc + N, 0.0f);
    return;
  }
  run(M, N, K, A, rs_a, cs_a, B, rs_b, cs_b, Out{C, ldc, nullptr, 0, 1.0f, 0.0f, nullptr, BiasKind::None, false},
      threads);
}

void gemm_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t rs_a, int64_t cs_a, const uint16_t* B,
               int64_t rs_b, int64_t cs_b, uint16_t* out, int64_t ldo, float alpha, float beta, const float* bias,
               BiasKind bias_kind, bool relu, float* c32, int threads) {
  if (M <= 0 || N <= 0 || K <= 0) return;  // (K == 0: the caller's matmul/addmm handle it)
  run(M, N, K, A, rs_a, cs_a, B, rs_b, cs_b, Out{c32, N, out, ldo, alpha, beta, bias, bias_kind, relu}, threads);
}

// float32 C (any row stride) -> bfloat16 out (any strides) through the epilogue; used when out has no unit column
// stride (the fused store needs one).
void store_bf16(int64_t M, int64_t N, const float* c, int64_t ldc, uint16_t* out, int64_t rs_o, int64_t cs_o,
                float alpha, float beta, const float* bias, BiasKind bias_kind, bool relu) {
  const Out o{nullptr, 0, nullptr, 0, alpha, beta, bias, bias_kind, relu};
  parallel_for(0, M, 16, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m)
      for (int64_t n = 0; n < N; ++n) {
        uint16_t& dst = out[m * rs_o + n * cs_o];
        dst = BFloat16::from_float(epilogue1(c[m * ldc + n], o, m, n, dst));
      }
  });
}

}  // namespace gemm_bf16
}  // namespace dlcore
