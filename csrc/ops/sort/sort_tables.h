// The per-ISA table of the small-k topk kernels (sort_topk.h, compiled in sort_cpu.cpp for scalar and in
// sort_avx2.cpp / sort_avx512.cpp); sort_cpu.cpp picks the active ISA's table and threads over the work.
#pragma once
#include <cstdint>

namespace dlcore {

// Largest k the threshold scan takes (insertion into a sorted buffer of k per line); larger k sorts/selects.
constexpr int64_t kTopkScanMaxK = 32;

// x [O, L, I] contiguous; values (x's dtype) and indices [O, K, I] contiguous; 1 <= K <= min(L, kTopkScanMaxK).
struct TopkArgs {
  const void* x;
  void* values;
  int64_t* indices;
  int64_t O, L, I, K;
  bool largest;
};

// Dtype slots: float32, float64, int32, int64, uint8.
// Both return how many lines they gave up (too many insertions), listed in redo (room for one per line given): the
// caller computes those lines' outputs another way.
struct TopkTable {
  // rows o0..o1 (I == 1); redo gets row numbers o
  int64_t (*rows[7])(const TopkArgs&, int64_t o0, int64_t o1, int64_t* redo) = {};
  // lines c0..c1 of slice o (I > 1); redo gets line numbers c; scratch holds (c1 - c0) * (K * (8 + sizeof(T)) +
  // sizeof(T) + 8) bytes, 8-aligned
  int64_t (*lanes[7])(const TopkArgs&, int64_t o, int64_t c0, int64_t c1, void* scratch, int64_t* redo) = {};
  int lane_width[7] = {};  // elements per vector block (1: scalar)
};

namespace scalar { void fill_topk_table(TopkTable&); }
namespace avx2 { void fill_topk_table(TopkTable&); }
namespace avx512 { void fill_topk_table(TopkTable&); }

}  // namespace dlcore
