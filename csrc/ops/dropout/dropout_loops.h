// The dropout loop, compiled once per ISA (the including file defines DLCORE_ISA_NS and DLCORE_VLEN): Philox
// words for a run of blocks go to a small buffer (a loop over independent blocks the compiler vectorises with the
// file's ISA), then the mask is applied.
#pragma once
#include <algorithm>

#include "core/parallel.h"
#include "ops/dropout/dropout.h"

namespace dlcore::DLCORE_ISA_NS {

constexpr int64_t kBlocksPerRun = 64;  // 256 mask words per run

template <class T>
void dropout_loop(T* y, const T* x, int64_t n, const DropoutArgs& a) {
  const int64_t group = a.group;
  const int64_t groups = (n + group - 1) / group;
  const int64_t blocks = (groups + 3) / 4;
  const float p = (float)a.p;
  const T scale = a.p < 1 ? (T)(1.0 / (1.0 - a.p)) : T(0);
  const uint32_t k0 = (uint32_t)a.seed, k1 = (uint32_t)(a.seed >> 32);
  int64_t grain_blocks = std::max<int64_t>(kBlocksPerRun, 8192 / (4 * group));
  parallel_for(0, blocks, grain_blocks, [&](int64_t b0, int64_t b1) {
    uint32_t words[4 * kBlocksPerRun];
    for (int64_t bs = b0; bs < b1; bs += kBlocksPerRun) {
      int64_t nb = std::min(kBlocksPerRun, b1 - bs);
      for (int64_t j = 0; j < nb; ++j) {
        uint64_t ctr = a.offset + (uint64_t)(bs + j);
        Philox4 r = philox4x32_10((uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0, k0, k1);
        words[4 * j] = r.x[0];
        words[4 * j + 1] = r.x[1];
        words[4 * j + 2] = r.x[2];
        words[4 * j + 3] = r.x[3];
      }
      int64_t r0 = 4 * bs, r1 = std::min(groups, 4 * (bs + nb));
      if (group == 1) {
        for (int64_t r = r0; r < r1; ++r) y[r] = dropout_keep(words[r - r0], p) ? x[r] * scale : T(0);
      } else {
        for (int64_t r = r0; r < r1; ++r) {
          T s = dropout_keep(words[r - r0], p) ? scale : T(0);
          int64_t i1 = std::min(n, (r + 1) * group);
          for (int64_t i = r * group; i < i1; ++i) y[i] = x[i] * s;
        }
      }
    }
  });
}

inline void dropout_run(char* y, const char* x, int64_t n, bool f64, const DropoutArgs& a) {
  if (f64) dropout_loop<double>(reinterpret_cast<double*>(y), reinterpret_cast<const double*>(x), n, a);
  else dropout_loop<float>(reinterpret_cast<float*>(y), reinterpret_cast<const float*>(x), n, a);
}

}  // namespace dlcore::DLCORE_ISA_NS
