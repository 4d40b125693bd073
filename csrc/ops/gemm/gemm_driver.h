// The BLIS-style GEMM driver, instantiated once per ISA file with that file's microkernel (`Kern`).
//
// Everything here lives in an anonymous namespace and is a template over Kern (a type local to each ISA file), so
// the AVX-512 instantiation can never be merged by the linker with the scalar one (no ODR trap between TUs that are
// compiled with different -m flags).
//
// Kern provides (see gemm_kernel.h for the microkernel contract):
//   using T;                         element type
//   MR, NR, VL                        micro-tile rows, columns, SIMD lanes (NR is a multiple of VL)
//   KC, MC, NC                        cache block sizes (the block-size table of this microkernel)
//   kMacsPerCycle, kPackCost          planner constants: multiply-adds per cycle, cycles per packed element
//   tile<M, NV, PA>(...)              the microkernel
//   pack_lines(src, ls, lines, k, dst, W)   dst[p*W + r] = src[r*ls + p]  (r < lines, p < k; transposing pack)
//   copy_rows(src, ss, width, k, dst, W)    dst[p*W + j] = src[p*ss + j]  (j < width), zero for width <= j < W
//
// The five loops (per thread, on the thread's block of C):
//   loop 5  jc over N in steps of NC   B block KC x NC, packed once per (jc, pc): sized to stay in L2
//   loop 4  pc over K in steps of KC   packs B[pc:pc+KC, jc:jc+NC] into NR-wide micro-panels
//   loop 3  ic over M in steps of MC   packs A[ic:ic+MC, pc:pc+KC] into MR-tall micro-panels
//   loop 2  ir over MC in steps of MR  A micro-panel MR x KC: stays in L1 while loop 1 sweeps the B block
//   loop 1  jr over NC in steps of NR  B micro-panel KC x NR, streamed from L2 (hardware prefetch)
//           microkernel: MR x NR tile of C in registers, rank-1 updates over KC
// In this kernel family the broadcast operand is A (MR values per k) and the vector operand is B (NR values per
// k), so the roles of BLIS's loops 1/2 and of MC/NC are those of BLIS with A and B exchanged: the small broadcast
// micro-panel is the L1-resident one, the wide vector block the L2-resident one.
// alpha/beta and the epilogue (bias, ReLU) are applied in the microkernel's store: beta on the first KC block, the
// epilogue on the last one, so C is read and written once per KC block and never in a separate pass.
//
// Threads: the (M, N) plane is cut into tm x tn blocks (tm * tn = threads; aligned to MR / NR) or, when C is small
// and K long, K is cut into parts whose partial products are summed at the end. Every thread packs its own panels
// into its own thread-local buffers, so there is no barrier inside a call: the planner picks the cut whose
// duplicated packing and padded edge tiles cost least (a simple cycle model), and one thread for small problems.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/parallel.h"
#include "ops/gemm/gemm_kernel.h"

namespace dlcore {
namespace gemm_detail {
namespace {

template <class T>
struct TileStore {
  T alpha, beta;
  const T* bias;  // already offset to the tile's first row (PerRow) or column (PerCol)
  BiasKind bias_kind;
  bool relu;
  bool last;  // last KC block: apply the epilogue
};

template <class Kern>
struct Driver {
  using T = typename Kern::T;
  static constexpr int MR = Kern::MR, NR = Kern::NR, VL = Kern::VL, NV = NR / VL;
  static_assert(NR % VL == 0 && Kern::MC % MR == 0 && Kern::NC % NR == 0,
                "block sizes must be multiples of the micro-tile");

  // ---------------------------------------------------------------------------------------------------- blocks
  // Kern's KC/MC/NC are the table for a core with a 32 KiB L1D and a 1 MiB L2 (Zen 4, where they were tuned).
  // On another core they are scaled to its caches (cpu_features(): L1D and L2 per core): KC with L1D, so that the
  // A micro-panel MR x KC keeps its share of L1 (Sapphire Rapids, 48 KiB: KC 256 -> 384 for float), and NC so
  // that the B block KC x NC keeps the table's size on a smaller L2 scaled down with it, and at most that size on
  // a larger one (Sapphire Rapids, 2 MiB: a 1 MiB block, NC 672 for float; a 1.5 MiB block (NC 1024) measured even
  // on 1024^3 and 2048^3 and 5-8% slower on 192 x 1024 x 384 and 96 x 2048 x 384 there, 1 thread, interleaved).
  // GemmOptions' kc/mc/nc override them (tests, tuning).
  struct Blocks {
    int64_t kc, mc, nc;
  };
  static int64_t round_to(double v, int64_t q) { return std::max<int64_t>(q, (int64_t)(v / (double)q) * q); }
  static Blocks core_blocks() {
    const CpuFeatures& f = cpu_features();
    const double s1 = (double)f.l1d / 32768.0;
    const double s2 = (double)f.l2 / 1048576.0;
    const int64_t kc = round_to(Kern::KC * s1, 16);
    return {kc, Kern::MC, round_to((double)Kern::NC * Kern::KC * std::min(s2, 1.0) / (double)kc, NR)};
  }
  static Blocks blocks(const GemmOptions& o) {
    static const Blocks core = core_blocks();
    Blocks b = core;
    if (o.kc > 0) b.kc = o.kc;
    if (o.mc > 0) b.mc = (o.mc + MR - 1) / MR * MR;
    if (o.nc > 0) b.nc = (o.nc + NR - 1) / NR * NR;
    return b;
  }
  static GemmBlocking blocking() {
    const Blocks b = blocks(GemmOptions{});
    return {MR, NR, (int)b.kc, (int)b.mc, (int)b.nc};
  }

  using TileFn = void (*)(int64_t, const T*, int64_t, int64_t, const T*, int64_t, T*, int64_t, int,
                          const TileStore<T>&);

  template <int M, bool PA, bool HT, size_t... J>
  static constexpr std::array<TileFn, NV> row_fns(std::index_sequence<J...>) {
    return {{&Kern::template tile<M, (int)J + 1, PA, HT>...}};
  }
  template <bool PA, bool HT, size_t... I>
  static constexpr std::array<std::array<TileFn, NV>, MR> all_fns(std::index_sequence<I...>) {
    return {{row_fns<(int)I + 1, PA, HT>(std::make_index_sequence<NV>{})...}};
  }
  // The instance for an m x n tile: M = m rows, ceil(n / VL) vectors, the last one half-width when the kernel has
  // half vectors and n leaves at most VL/2 columns in it.
  static TileFn tile_fn(int m, int n, bool pa) {
    static constexpr auto packed = all_fns<true, false>(std::make_integer_sequence<size_t, MR>{});
    static constexpr auto strided = all_fns<false, false>(std::make_integer_sequence<size_t, MR>{});
    int nv = (n + VL - 1) / VL;
    if constexpr (Kern::kHalfTail) {
      static constexpr auto packed_h = all_fns<true, true>(std::make_integer_sequence<size_t, MR>{});
      static constexpr auto strided_h = all_fns<false, true>(std::make_integer_sequence<size_t, MR>{});
      if (n - (nv - 1) * VL <= VL / 2) return pa ? packed_h[m - 1][nv - 1] : strided_h[m - 1][nv - 1];
    }
    return pa ? packed[m - 1][nv - 1] : strided[m - 1][nv - 1];
  }

  // ---------------------------------------------------------------------------------------------------- packing
  // Rows of the micro-tile that starts at row ir of an mc-row block: MR, except that a small remainder (<= MR/2
  // rows) is merged with the last full tile into two near-equal tiles (64 rows: 12, 12, 12, 12, 8, 8 rather than
  // 5 x 12 + 4). A 4-row tile streams a whole B micro-panel for a third of a tile's FMAs: measured on Sapphire
  // Rapids (1 thread, both variants in one process, paired per round) +2.3-3.1% on 64 x 224 x 576 (resnet56's
  // im2col tiles), 64 x 256 x 784, 64 x 2880 x 100 and 64 x 100 x 2880; +1.6% on 16 x 1024 x 1024; even elsewhere.
  static int tile_rows(int64_t ir, int64_t mc) {
    const int64_t rem = mc % MR;
    if (rem == 0 || mc < MR || rem > MR / 2) return (int)std::min<int64_t>(MR, mc - ir);
    const int64_t split = mc - MR - rem;  // first row of the last two tiles
    if (ir < split) return MR;
    return ir == split ? (int)((MR + rem + 1) / 2) : (int)(mc - ir);
  }

  // A block (mc x kc) -> micro-panels of tile_rows() rows, panel i at dst + i * MR * kc, kc * MR values each
  // (k-major, MR per k); rows past a panel's tile are never read.
  static void pack_a(int64_t mc, int64_t kc, const T* a, int64_t rs, int64_t cs, T* dst) {
    int mr;
    for (int64_t ir = 0, panel = 0; ir < mc; ir += mr, ++panel) {
      mr = tile_rows(ir, mc);
      const T* src = a + ir * rs;
      T* d = dst + panel * MR * kc;
      if (cs == 1) Kern::pack_lines(src, rs, mr, kc, d, MR);
      else if (rs == 1) Kern::copy_rows(src, cs, mr, kc, d, MR);
      else
        for (int64_t p = 0; p < kc; ++p)
          for (int i = 0; i < mr; ++i) d[p * MR + i] = src[i * rs + p * cs];
    }
  }
  // B block (kc x nc) whose row p starts at row(p) (unit stride along N) -> the micro-panels: one pass along each
  // row (contiguous, prefetched), scattering NR-wide pieces to the panels. (Panel by panel would read NR columns of
  // every row: a page per row when the row stride is large, which the hardware prefetcher does not follow.)
  template <class RowFn>
  static void pack_b_by_rows(int64_t kc, int64_t nc, const RowFn& row, T* dst) {
    for (int64_t p = 0; p < kc; ++p) {
      const T* src = row(p);
      for (int64_t jr = 0; jr < nc; jr += NR)
        Kern::copy_rows(src + jr, 0, (int)std::min<int64_t>(NR, nc - jr), 1, dst + jr * kc + p * NR, NR);
    }
  }
  // B block (kc x nc) -> NR-wide micro-panels, each kc * NR values (k-major), zero-padded past nc.
  static void pack_b(int64_t kc, int64_t nc, const T* b, int64_t rs, int64_t cs, T* dst) {
    if (cs == 1) return pack_b_by_rows(kc, nc, [&](int64_t p) { return b + p * rs; }, dst);
    for (int64_t jr = 0; jr < nc; jr += NR) {
      int nr = (int)std::min<int64_t>(NR, nc - jr);
      const T* src = b + jr * cs;
      T* d = dst + jr * kc;
      if (rs == 1) {
        Kern::pack_lines(src, cs, nr, kc, d, NR);
      } else {
        for (int64_t p = 0; p < kc; ++p)
          for (int j = 0; j < nr; ++j) d[p * NR + j] = src[p * rs + j * cs];
      }
      if (nr < NR)
        for (int64_t p = 0; p < kc; ++p)
          for (int j = nr; j < NR; ++j) d[p * NR + j] = T(0);
    }
  }

  // ---------------------------------------------------------------------------------------------------- pieces
  static T apply_epilogue(T v, const GemmEpilogue<T>& ep, int64_t m, int64_t n) {
    if (ep.bias_kind == BiasKind::PerRow) v += ep.bias[m];
    else if (ep.bias_kind == BiasKind::PerCol) v += ep.bias[n];
    if (ep.relu && !(v > T(0))) v = (v != v) ? v : T(0);
    return v;
  }

  // K == 0: C = beta * C (+ epilogue), any strides.
  static void scale_only(const GemmCall<T>& p) {
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = 0; n < p.N; ++n) {
        T& c = p.C[m * p.rs_c + n * p.cs_c];
        c = apply_epilogue(p.beta == T(0) ? T(0) : p.beta * c, p.ep, m, n);
      }
  }

  // One tile through a temporary (C with no unit stride): the kernel computes acc, the merge applies alpha, beta
  // and the epilogue with C's strides.
  static void tile_via_temp(TileFn fn, int mr, int nr, int64_t kc, const T* a, int64_t a_rs, int64_t a_cs,
                            const T* b, int64_t b_rs, T* c, int64_t rs_c, int64_t cs_c, const TileStore<T>& st,
                            const GemmEpilogue<T>& ep, int64_t m0, int64_t n0) {
    alignas(64) T tmp[MR * NR];
    TileStore<T> s0{T(1), T(0), nullptr, BiasKind::None, false, false};
    fn(kc, a, a_rs, a_cs, b, b_rs, tmp, NR, nr, s0);
    for (int i = 0; i < mr; ++i)
      for (int j = 0; j < nr; ++j) {
        T& cv = c[i * rs_c + j * cs_c];
        T v = st.alpha * tmp[i * NR + j] + (st.beta == T(0) ? T(0) : st.beta * cv);
        cv = st.last ? apply_epilogue(v, ep, m0 + i, n0 + j) : v;
      }
  }

  // ---------------------------------------------------------------------------------------------------- serial
  // The five loops on one thread's problem p (C unit-stride along N, or general strides through temp tiles).
  static void serial(const GemmCall<T>& p, bool pack_a_on, bool pack_b_on) {
    const int64_t M = p.M, N = p.N, K = p.K;
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
      scale_only(p);
      return;
    }
    const bool direct_c = p.cs_c == 1;
    const Blocks bl = blocks(p.opt);
    const int64_t MC = bl.mc;
    // Balanced KC blocks: K = 784 runs as 4 x 196 with KC 256, not 3 x 256 + 16 (a thin last block pays the C
    // traffic of a full one for little work); NC blocks likewise (N = 1024 with NC = 672: 2 x 512, not 672 + 352).
    const int64_t kc_max = kc_balanced(K, kc_for(p, pack_a_on));
    const int64_t NC = nc_balanced(N, bl.nc);
    T* bufA = pack_a_on ? (T*)workspace(0, sizeof(T) * (size_t)std::min<int64_t>(MC, M + MR) * kc_max) : nullptr;
    const int64_t nc_max = std::min<int64_t>(NC, (N + NR - 1) / NR * NR);
    T* bufB = (T*)workspace(pack_b_on ? 1 : 3, sizeof(T) * (size_t)(pack_b_on ? nc_max : NR) * kc_max);

    for (int64_t jc = 0; jc < N; jc += NC) {  // ---- loop 5: NC columns of B and C
      const int64_t nc = std::min<int64_t>(NC, N - jc);
      for (int64_t pc = 0; pc < K; pc += kc_max) {  // ---- loop 4: KC-deep rank-kc update
        const int64_t kc = std::min<int64_t>(kc_max, K - pc);
        const bool first = pc == 0, last = pc + kc == K;
        const T* Bblk = p.b_rows ? nullptr : p.B + pc * p.rs_b + jc * p.cs_b;
        // The ragged last strip (ne <= kDotEdgeCols columns) as dot products along k when A is read in place
        // along k (Kern::edge_dot): its columns copied to bt, column-major and zero-padded to a whole vector.
        const int64_t j_edge = nc / NR * NR, ne = nc - j_edge;
        bool dot_edge = false;
        const T* bt = nullptr;
        int64_t ldbt = 0;
        if constexpr (Kern::kDotEdge) {
          dot_edge = ne > 0 && ne <= Kern::kDotEdgeCols && !pack_a_on && p.cs_a == 1 && direct_c && !p.b_rows;
          if (dot_edge) {
            ldbt = (kc + VL - 1) / VL * VL;
            T* w = (T*)workspace(4, sizeof(T) * (size_t)(Kern::kDotEdgeCols * ldbt));
            std::memset(w, 0, sizeof(T) * (size_t)(Kern::kDotEdgeCols * ldbt));
            for (int64_t q = 0; q < kc; ++q)
              for (int64_t j = 0; j < ne; ++j) w[j * ldbt + q] = Bblk[q * p.rs_b + (j_edge + j) * p.cs_b];
            bt = w;
          }
        }
        if (p.b_rows) {
          pack_b_by_rows(kc, nc, [&](int64_t q) { return p.b_rows[pc + q] + p.b_col0 + jc; }, bufB);
        } else if (pack_b_on) {
          pack_b(kc, dot_edge ? j_edge : nc, Bblk, p.rs_b, p.cs_b, bufB);
        } else if (ne && !dot_edge) {  // unpacked B: only the ragged last strip is copied (full-vector reads)
          Kern::copy_rows(Bblk + j_edge, p.rs_b, (int)ne, kc, bufB, NR);
        }
        TileStore<T> st{p.alpha, first ? p.beta : T(1), nullptr, p.ep.bias_kind, p.ep.relu, last};
        if (!last) st.bias_kind = BiasKind::None, st.relu = false;
        for (int64_t ic = 0; ic < M; ic += MC) {  // ---- loop 3: MC rows of A and C
          const int64_t mc = std::min<int64_t>(MC, M - ic);
          const T* Ablk = p.A + ic * p.rs_a + pc * p.cs_a;
          if (pack_a_on) pack_a(mc, kc, Ablk, p.rs_a, p.cs_a, bufA);
          int mr;
          for (int64_t ir = 0, panel = 0; ir < mc; ir += mr, ++panel) {  // ---- loop 2: one A micro-panel (in L1)
            mr = tile_rows(ir, mc);
            const T* a = pack_a_on ? bufA + panel * MR * kc : Ablk + ir * p.rs_a;
            const int64_t a_rs = pack_a_on ? 1 : p.rs_a, a_cs = pack_a_on ? MR : p.cs_a;
            const int64_t m0 = ic + ir;
            TileStore<T> s = st;
            if (s.bias_kind == BiasKind::PerRow) s.bias = p.ep.bias + m0;
            for (int64_t jr = 0; jr < nc; jr += NR) {  // ---- loop 1: B micro-panels from L2; the microkernel
              const int nr = (int)std::min<int64_t>(NR, nc - jr);
              const T* b;
              int64_t b_rs;
              if (pack_b_on) {
                b = bufB + jr * kc;
                b_rs = NR;
              } else if (nr == NR) {
                b = Bblk + jr;
                b_rs = p.rs_b;
              } else {
                b = bufB;
                b_rs = NR;
              }
              const int64_t n0 = jc + jr;
              if constexpr (Kern::kDotEdge) {
                if (dot_edge && jr == j_edge) {
                  if (s.bias_kind == BiasKind::PerCol) s.bias = p.ep.bias + n0;
                  Kern::edge_dot(mr, kc, a, a_rs, bt, ldbt, p.C + m0 * p.rs_c + n0, p.rs_c, nr, s);
                  continue;
                }
              }
              TileFn fn = tile_fn(mr, nr, pack_a_on);
              if (direct_c) {
                if (s.bias_kind == BiasKind::PerCol) s.bias = p.ep.bias + n0;
                fn(kc, a, a_rs, a_cs, b, b_rs, p.C + m0 * p.rs_c + n0, p.rs_c, nr, s);
              } else {
                tile_via_temp(fn, mr, nr, kc, a, a_rs, a_cs, b, b_rs, p.C + m0 * p.rs_c + n0 * p.cs_c, p.rs_c,
                              p.cs_c, st, p.ep, m0, n0);
              }
            }
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------- planner
  // Strides that map many rows of an unpacked operand to the same L1 sets (multiples of 1 KiB) make packing pay.
  static bool conflict_stride(int64_t s) { return s != 0 && ((s * (int64_t)sizeof(T)) % 1024) == 0; }
  // Whether the MR rows of an A micro-panel read in place (row stride rs elements) overfill an L1 set: more of
  // them in one set than the L1D has ways (64 sets of 4 KiB ways: Zen 4 8-way, Sapphire Rapids 12-way).
  static bool a_rows_alias(int64_t rs) {
    const int ways = (int)cpu_features().l1d_ways;
    int count[64] = {};
    for (int i = 0; i < MR; ++i)
      if (++count[(int)(((uint64_t)(i * rs) * sizeof(T) / 64) % 64)] > ways) return true;
    return false;
  }
  static bool want_pack_a(const GemmCall<T>& p, int64_t n) {
    if (p.opt.pack_a >= 0) return p.opt.pack_a != 0;
    // The A micro-panel is reused (from L1) by every B micro-panel of the block. The kernel broadcasts A values
    // with any strides, so a row-major A (unit column stride) is read in place unless its MR rows overfill an L1
    // set; the transposing pack into MR-tall panels costs more than it saves. Measured on Sapphire Rapids
    // (AVX-512, 1 thread, GFLOP/s, in place vs panels, interleaved): 1024^3 222 vs 220 (lda 1024: 12 rows in one
    // set of the 12-way L1); 2048^3 219.5 vs 217; 2880 x 100 x 64 165 vs 156; 64 x 100 x 2880 169 vs 154;
    // 64 x 256 x 784 195.5 vs 190.6. (On Zen 4's 8-way L1 a 1 KiB-multiple row stride packs.)
    // A column-major A (the pack is a plain copy) or general strides are packed when there are more than a few
    // B micro-panels. Small N never packs: measured on Zen 4 with n = 28..128 the unpacked A ran at 107-109
    // GFLOP/s against 76-106 packed, aliasing strides included (1024 x 256 x 64: 312 vs 335 us; 512 x 1792 x 28:
    // 567 vs 674 us; 2048 x 512 x 32: 628 vs 739 us; column-major 1024 x 256 x 32: 157 vs 235 us). (B keeps its
    // conflict rule: its rows are the streamed vector operand.)
    if (std::min<int64_t>(n, blocks(p.opt).nc) <= 4 * NR) return false;
    if (p.cs_a == 1) return a_rows_alias(p.rs_a);
    return true;
  }
  static bool want_pack_b(const GemmCall<T>& p, int64_t m, bool pack_a) {
    if (p.cs_b != 1 || p.b_rows) return true;  // the microkernel reads B rows as vectors
    if (p.opt.pack_b >= 0) return p.opt.pack_b != 0;
    // Unpacked, the B micro-panels are read from B's rows by every A micro-panel (from L2 after the first).
    // On an 8-way L1 (Zen 4) that beats a copy for up to 6 of them (measured 5-8% on 64 x 256 x 784,
    // 64 x 100 x 2880) unless B's row stride aliases cache sets. On a wider L1 (Sapphire Rapids, 12-way 48 KiB)
    // what decides is the number of 4 KiB pages one micro-panel sweep touches (kc rows at B's row stride):
    // measured (1 thread, GFLOP/s, in place vs packed) 64 x 256 x 784 (98 pages) 216 vs 199, 128 x 256 x 784
    // 227 vs 210, 200 x 300 x 400 (117) 223 vs 213, 64 x 2880 x 100 (100) 201 vs 175, 20 x 36864 x 25 111 vs 101;
    // but 32 x 4096 x 128 (128 pages) 122 vs 139, 72 x 1024 x 256 (256) 154 vs 181, 64 x 1000 x 1000 139 vs 170;
    // and from about 32 A micro-panels the copy pays whatever the stride (2048 x 128 x 512 197 vs 208,
    // 512 x 300 x 300 228 vs 225: even).
    if (cpu_features().l1d_ways < 12) return m > 6 * MR || conflict_stride(p.rs_b);
    // A few B micro-panels (N <= 4 NR: a recurrent step's dh = W_hh^T dG with B the gate gradients' columns at a
    // row stride of T N) are read in place whatever the page count, unless a set-aliasing stride meets many A
    // micro-panels. Measured on Zen 5 (1 thread, GFLOP/s, in place vs packed): 128 x 64 x 512 (B row stride 1792)
    // 237 vs 221, 64 x 32 x 256 182 vs 169, 128 x 96 x 512 249 vs 230, 1024 x 64 x 4096 249 vs 246, 512 x 32 x 1536
    // 249 vs 241; a 4 KiB stride: 128 x 64 x 512 237 vs 224, but 512 x 32 x 2048 212 vs 243.
    if (nc_balanced(p.N, blocks(p.opt).nc) <= 4 * NR && (m <= 32 * MR || !conflict_stride(p.rs_b))) return false;
    const int64_t kc = kc_balanced(p.K, kc_for(p, pack_a));
    const int64_t row_bytes = p.rs_b * (int64_t)sizeof(T);
    const int64_t pages = row_bytes >= 4096 ? kc : (kc * row_bytes + 4095) / 4096;
    return m > 32 * MR || pages > 120;
  }
  // The KC of a call: the table's, or for an A read in place (small N) larger. KC exists to keep the A micro-panel
  // (MR x KC) in L1 while loop 1 sweeps the B micro-panels; with few of them that reuse is small, and every KC
  // block costs a read and write of the C tile, which then dominates (an LSTM's recurrent GEMM writes gates at a
  // row stride of T*N). So: one B micro-panel (the A values are used once) -> 8 x KC; up to 4 -> 2 x KC. Measured
  // on Sapphire Rapids (1 thread, interleaved, GFLOP/s at KC 384 vs the larger KC): 2048 x 32 x 512 (C row stride
  // 1600) 162 vs 181, 2048 x 16 x 512 121 vs 144, 512 x 32 x 2048 191 vs 206 (KC 2048), 2048 x 64 x 512 187 vs
  // 201, 2048 x 128 x 512 183 vs 193, 512 x 96 x 2048 199 vs 206 (KC 1024), 64 x 100 x 2880 140 vs 149 (KC 720;
  // even in a later run), 12 x 96 x 2880 0.94-1.0x (small M, three panels: the A micro-panel fills L1);
  // but with 8 micro-panels a larger KC lost (64 x 256 x 784: 194 vs 183 at KC 784).
  static int64_t kc_for(const GemmCall<T>& p, bool pack_a) {
    const Blocks bl = blocks(p.opt);
    if (pack_a || p.opt.kc > 0) return bl.kc;
    const int64_t panels = nc_balanced(p.N, bl.nc) / NR;
    return panels == 1 ? 8 * bl.kc : panels <= 4 ? 2 * bl.kc : bl.kc;
  }
  // The NC blocks of an N-wide product: balanced, in whole micro-panels (N = 1024 with NC 672: 2 x 512).
  static int64_t nc_balanced(int64_t N, int64_t nc) {
    const int64_t nblocks = (N + nc - 1) / nc;
    return ((N + nblocks - 1) / nblocks + NR - 1) / NR * NR;
  }
  // The KC blocks of a K-long product: balanced (K = 784 runs as 2 x 392 with KC 384, not 384 + 384 + 16).
  static int64_t kc_balanced(int64_t K, int64_t kc) {
    const int64_t kblocks = (K + kc - 1) / kc;
    return (K + kblocks - 1) / kblocks;
  }

  // Cycle estimate for one thread working on an m x n x k block (padded tiles, packing it does itself).
  static double cost(int64_t m, int64_t n, int64_t k, int64_t NC) {
    if (m <= 0 || n <= 0) return 0;
    double mp = (double)((m + MR - 1) / MR * MR), np = (double)((n + VL - 1) / VL * VL);
    double c = mp * np * (double)k / Kern::kMacsPerCycle;
    double pk = 0;
    if (n > 4 * NR) pk += (double)m * k * (double)((n + NC - 1) / NC);
    if (m > 6 * MR) pk += (double)n * k;
    return c + pk * Kern::kPackCost;
  }

  static GemmCall<T> sub(const GemmCall<T>& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    GemmCall<T> s = p;
    s.M = m1 - m0;
    s.N = n1 - n0;
    s.A = p.A + m0 * p.rs_a;
    if (p.b_rows) s.b_col0 = p.b_col0 + n0;
    else s.B = p.B + n0 * p.cs_b;
    s.C = p.C + m0 * p.rs_c + n0 * p.cs_c;
    if (p.ep.bias_kind == BiasKind::PerRow) s.ep.bias = p.ep.bias + m0;
    else if (p.ep.bias_kind == BiasKind::PerCol) s.ep.bias = p.ep.bias + n0;
    return s;
  }

  static void run_serial(const GemmCall<T>& p) {
    const bool pa = want_pack_a(p, p.N);
    serial(p, pa, want_pack_b(p, p.M, pa));
  }

  // The entry point for one GEMM of this ISA (any strides, any orientation).
  static void run(const GemmCall<T>& call) {
    GemmCall<T> p = call;
    if (p.M <= 0 || p.N <= 0) return;
    // Orientation: the microkernel wants C unit-stride along N. Transpose the problem (C^T = B^T A^T) when C is
    // unit-stride along M instead; otherwise keep it (general C strides go through temp tiles).
    if (p.N == 1) p.cs_c = 1;
    if (p.cs_c != 1 && (p.rs_c == 1 || p.M == 1) && !p.b_rows) {
      std::swap(p.M, p.N);
      std::swap(p.A, p.B);
      int64_t ra = p.rs_a, ca = p.cs_a;
      p.rs_a = p.cs_b;
      p.cs_a = p.rs_b;
      p.rs_b = ca;
      p.cs_b = ra;
      std::swap(p.rs_c, p.cs_c);
      if (p.M == 1) p.rs_c = p.N;  // unused, keeps sub-block arithmetic finite
      if (p.ep.bias_kind == BiasKind::PerRow) p.ep.bias_kind = BiasKind::PerCol;
      else if (p.ep.bias_kind == BiasKind::PerCol) p.ep.bias_kind = BiasKind::PerRow;
    }
    if (p.K <= 0) {
      scale_only(p);
      return;
    }
    const int64_t M = p.M, N = p.N, K = p.K;
    int nt = p.opt.threads > 0 ? std::min(p.opt.threads, get_num_threads()) : get_num_threads();
    if (in_parallel_region()) nt = 1;
    // ---- plan the thread split
    int split = 0, tm = 1, tn = 1;
    const int64_t NC = blocks(p.opt).nc;
    const double serial_cost = cost(M, N, K, NC);
    if (nt > 1 && p.opt.split != 0) {
      double best = serial_cost - 20000.0;  // a parallel call must win more than its wake-up/join cost
      if (p.opt.split > 0) best = 1e300;
      for (int a = 1; a <= nt; ++a) {
        if (nt % a) continue;
        int b = nt / a;
        if (p.opt.split == 1 && b != 1) continue;
        if (p.opt.split == 2 && a != 1) continue;
        if (p.opt.split == 3) continue;
        int64_t mt = (M + MR - 1) / MR, ntl = (N + NR - 1) / NR;
        if (a > mt || b > ntl) continue;
        // the largest block a thread gets: whole tiles, but never more than the dimension itself (an M split of
        // 2880 x 100 x 64 costs 100 columns, not 4 x 32; counted as 128 it lost to the N split, measured 1.3x
        // slower on Sapphire Rapids: 190 vs 248 GFLOP/s at 2 threads)
        double c = cost(std::min(M, (mt + a - 1) / a * MR), std::min(N, (ntl + b - 1) / b * NR), K, NC);
        if (c < best) best = c, split = a == 1 ? 2 : (b == 1 ? 1 : 4), tm = a, tn = b;
      }
      if ((p.opt.split < 0 || p.opt.split == 3) && K >= 2 * nt) {
        double c = cost(M, N, (K + nt - 1) / nt, NC) + 2.0 * (double)M * N;
        if (c < best) best = c, split = 3;
      }
    }
    if (split == 0) {
      run_serial(p);
      return;
    }
    if (split == 3) {
      run_split_k(p, nt);
      return;
    }
    int64_t mt = (M + MR - 1) / MR, ntl = (N + NR - 1) / NR;
    parallel_run(tm * tn, [&](int tid, int nthreads) {
      if (nthreads != tm * tn) {  // the pool gave fewer threads: do the whole problem on this one
        if (tid == 0) run_serial(p);
        return;
      }
      int bi = tid / tn, bj = tid % tn;
      int64_t m0 = std::min(M, mt * bi / tm * MR), m1 = std::min(M, mt * (bi + 1) / tm * MR);
      int64_t n0 = std::min(N, ntl * bj / tn * NR), n1 = std::min(N, ntl * (bj + 1) / tn * NR);
      if (m0 < m1 && n0 < n1) run_serial(sub(p, m0, m1, n0, n1));
    });
  }

  // K split: thread t computes P_t = A[:, K_t] B[K_t, :] into its own M x N buffer, then the partial products
  // are summed into C with alpha, beta and the epilogue (rows split between the threads).
  static void run_split_k(const GemmCall<T>& p, int nt) {
    const int64_t M = p.M, N = p.N, K = p.K;
    T* parts = (T*)workspace(2, sizeof(T) * (size_t)(M * N) * nt);  // the caller's buffer, one slice per part
    parallel_run(nt, [&](int tid, int nthreads) {
      // nthreads < nt only if the pool ran the tasks serially (fn(0, 1)): then this one call does every part.
      for (int part = tid; part < nt; part += nthreads) {
        int64_t k0 = K * part / nt, k1 = K * (part + 1) / nt;
        T* buf = parts + (size_t)part * M * N;
        GemmCall<T> s = p;
        s.K = k1 - k0;
        s.A = p.A + k0 * p.cs_a;
        if (p.b_rows) s.b_rows = p.b_rows + k0;
        else s.B = p.B + k0 * p.rs_b;
        s.alpha = T(1);
        s.beta = T(0);
        s.C = buf;
        s.rs_c = N;
        s.cs_c = 1;
        s.ep = GemmEpilogue<T>{};
        if (s.K > 0) run_serial(s);
        else std::memset(buf, 0, sizeof(T) * (size_t)(M * N));
      }
    });
    parallel_run(nt, [&](int tid, int nthreads) {
      int64_t r0 = M * tid / nthreads, r1 = M * (tid + 1) / nthreads;
      for (int64_t m = r0; m < r1; ++m)
        for (int64_t n = 0; n < N; ++n) {
          T s = 0;
          for (int t = 0; t < nt; ++t) s += parts[(size_t)t * M * N + m * N + n];
          T& c = p.C[m * p.rs_c + n * p.cs_c];
          c = apply_epilogue(p.alpha * s + (p.beta == T(0) ? T(0) : p.beta * c), p.ep, m, n);
        }
    });
  }
};

}  // namespace
}  // namespace gemm_detail
}  // namespace dlcore
