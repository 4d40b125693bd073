// Internal interface between the GEMM front end (gemm_cpu.cpp) and the per-ISA GEMM implementations
// (gemm_cpu.cpp: scalar, gemm_avx2.cpp, gemm_avx512.cpp). Each ISA file instantiates the BLIS-style driver of
// gemm_driver.h with its own microkernel and block sizes and exports one entry point per dtype.
//
// ---------------------------------------------------------------------------------------------------------------
// MICROKERNEL CONTRACT (every ISA's `Kernel::tile<M, NV, PA>` obeys it; gemm_driver.h relies on nothing else)
//
//   tile<M, NV, PA>(k, a, a_rs, a_cs, b, b_rs, c, rs_c, n, st)
//
//   computes the M x n tile  acc[i][j] = sum_{p < k} A(i, p) * B(p, j)   for i < M, j < NV * VL,  then stores it.
//   * M (1 <= M <= MR) is a template parameter: edge tiles in the M direction use the M-row instance, so they cost
//     M/MR of a full tile. NV (1 <= NV <= NR/VL) is the number of SIMD vectors per row that hold valid columns:
//     (NV-1)*VL < n <= NV*VL, so an N edge tile costs ceil(n/VL) vectors, not NR/VL.
//   * A(i, p) = a[i * a_rs + p * a_cs]. PA (packed A) fixes a_rs = 1, a_cs = MR at compile time (the packed
//     micro-panel: k-major, MR values per k, rows >= M never read). Without PA any strides work (A is only ever
//     broadcast), which is the small-N path that does not pack A.
//   * B(p, j) = b[p * b_rs + j]: B rows are unit-stride, and the kernel reads NV*VL values of each (full vectors).
//     The packed micro-panel (b_rs = NR, zero-padded past the last valid column, 64-byte aligned) or, for full
//     tiles only, an unpacked row-major B (b_rs = the caller's row stride).
//   * C(i, j) = c[i * rs_c + j] (unit column stride; the driver transposes the problem or goes through a
//     temporary tile for other layouts). Only the n valid columns of C are read or written (masked edge stores).
//   * Store (TileStore): v = alpha * acc + (beta == 0 ? 0 : beta * C)   -- beta == 0 never reads C (NaN-safe);
//     then, when st.last (the last KC block), v += bias[i] (PerRow) or bias[j] (PerCol), and v = max(v, 0) if relu
//     (NaN propagates). The driver passes the caller's alpha/beta on the first KC block and beta = 1 afterwards.
//   * k may be 0: the tile is then beta * C (+ epilogue).
//   * Alignment: packed a and b are 64-byte aligned; c, unpacked a/b and bias have no alignment requirement.
// ---------------------------------------------------------------------------------------------------------------
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/cpu_features.h"
#include "ops/gemm/gemm.h"

namespace dlcore {
namespace gemm_detail {

// Forcing knobs (tests and benchmarks): -1 = let the planner choose.
struct GemmOptions {
  int isa = -1;         // Isa value; the active ISA otherwise (never above what the CPU supports)
  int pack_a = -1;      // 0/1: force A read in place / packed into MR-tall panels
  int pack_b = -1;      // 0/1: force not packing / packing B (0 needs a unit-stride B along N)
  int split = -1;       // thread split: 0 = one thread, 1 = split M, 2 = split N, 3 = split K
  int threads = 0;      // 0 = get_num_threads()
  int kc = 0, mc = 0, nc = 0;  // block sizes (> 0: override this core's table; mc, nc rounded up to MR, NR)
};

template <class T>
struct GemmCall {
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t rs_a, cs_a;
  const T* B;
  int64_t rs_b, cs_b;
  T beta;
  T* C;
  int64_t rs_c, cs_c;
  GemmEpilogue<T> ep;
  GemmOptions opt;
  // B given by rows (B and rs_b unused, cs_b 1): row k starts at b_rows[k] + b_col0. For operands that are rows of
  // another array, e.g. a convolution's implicit im2col (sgemm_rows). Always packed; C is not reoriented.
  const T* const* b_rows = nullptr;
  int64_t b_col0 = 0;
};

// What one ISA implementation does per tile and how it blocks (reported to tests and the benchmark).
struct GemmBlocking {
  int MR, NR, KC, MC, NC;
};

using SgemmImpl = void(const GemmCall<float>&);
using DgemmImpl = void(const GemmCall<double>&);

void sgemm_scalar(const GemmCall<float>&);
void dgemm_scalar(const GemmCall<double>&);
GemmBlocking gemm_blocking_scalar(bool dbl);
void sgemm_avx2(const GemmCall<float>&);
void dgemm_avx2(const GemmCall<double>&);
GemmBlocking gemm_blocking_avx2(bool dbl);
void sgemm_avx512(const GemmCall<float>&);
void dgemm_avx512(const GemmCall<double>&);
GemmBlocking gemm_blocking_avx512(bool dbl);

// Thread-local, 64-byte aligned scratch memory that only grows (slot 0: packed A, 1: packed B, 2: split-K partial
// products, 3: edge strip of an unpacked B, 4: the edge strip's columns for the dot-product edge). Valid until the same thread asks for the same slot again.
void* workspace(int slot, size_t bytes);

// The front end: runs one GEMM on the active ISA (or c.opt.isa). M or N == 0 is a no-op; K == 0 scales C.
template <class T>
void gemm_call(const GemmCall<T>& c);
GemmBlocking gemm_blocking(Isa isa, bool dbl);

}  // namespace gemm_detail
}  // namespace dlcore
