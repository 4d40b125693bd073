// CUDA GEMM: shared pieces (parameters, tile order, epilogue) and the SIMT kernel (float32 and float64).
// The tensor-core kernel is in gemm_mma_kernels.cuh; the launchers and the kernel choice in gemm_cuda.cu.
//
// Contract (gemm_cuda.h): C_i = alpha * A_i @ B_i + beta * C_i (+ bias, ReLU) for every batch entry i, general
// strides, any M, N, K >= 0; beta == 0 never reads C.
//
// SIMT kernel, the known ladder (siboehm's "How to optimize a CUDA matmul" steps 4-10, CUTLASS's SIMT GEMM):
//   1. one block per BM x BN output tile, K walked in BK slices staged through shared memory (step 3);
//   2. 2-D register blocking: each thread owns (4*TMG) x (4*TNG) outputs = an outer product of a column of A and a
//      row of B per k (steps 4-5), 64 FMAs per 16 shared loads with the 128x128x8 / 8x8 config;
//   3. 16-byte vectorised global loads when the operand is contiguous along the loaded dimension and aligned
//      (mode VecK / VecMN), scalar loads for general strides (mode Scalar) (step 6); A is stored k-major in shared
//      memory (As[k][m]) so the inner loop reads float4s of A and of B; rows are padded by 4 floats so the
//      transposing stores of A are conflict-free;
//   4. warp tiling (step 9): a warp owns a (32*TMG) x (16*TNG) sub-tile, its lanes 8 x 4 with 4x4 micro-tiles
//      spaced 32 rows / 16 columns apart, so each shared float4 read is a conflict-free broadcast;
//   5. double buffering (step 10): the next K slice is loaded from global memory into registers while the current
//      one is computed from shared memory, then stored into the other buffer; one __syncthreads per K slice;
//   6. edge tiles: out-of-range loads read 0, out-of-range stores are skipped; alpha/beta, bias and ReLU are applied
//      in the store (gemm_epilogue_value), with 16-byte stores when C is row-contiguous and aligned.
// Tiles are visited in grouped order (GROUP_M tile rows at a time, the Triton/CUTLASS swizzle) so consecutive
// blocks share panels of A and B in L2; grid-stride loops cover any number of tiles and batch entries.
#pragma once
#include <type_traits>

#include "cuda/cuda_kernel.cuh"
#include "ops/gemm/gemm.h"

namespace dlcore::gemm_cuda_detail {

// How a tile of an operand is read from global memory.
enum LoadMode : int {
  kScalar = 0,  // any strides: one element per load
  kVecK = 1,    // contiguous along k, 16-byte aligned rows: 16-byte loads along k
  kVecMN = 2,   // contiguous along m (A) / n (B), 16-byte aligned: 16-byte loads along m / n
};

// S: the scalar/accumulator type (float for float, Half, BFloat16; double for double).
template <class T, class S>
struct GemmParams {
  int64_t M, N, K, batch;
  S alpha, beta;
  const T* A;
  int64_t rs_a, cs_a, sa;
  const T* B;
  int64_t rs_b, cs_b, sb;
  T* C;
  int64_t rs_c, cs_c, sc;
  const T* bias;
  int bias_kind;  // BiasKind as int
  int relu;
  int a_mode, b_mode;  // LoadMode
  int c_vec;           // 1: C rows contiguous and 16-byte aligned (vector stores of 4 floats)
};

constexpr int kGroupM = 8;

// Tile id -> (tile row, tile column) in grouped order: kGroupM tile rows are swept column by column, so the
// blocks running at one time reuse a few panels of A and B from L2.
__device__ __forceinline__ void tile_coords(int64_t id, int64_t tiles_m, int64_t tiles_n, int64_t& tm, int64_t& tn) {
  int64_t per_group = (int64_t)kGroupM * tiles_n;
  int64_t group = id / per_group;
  int64_t first_m = group * kGroupM;
  int64_t rows = tiles_m - first_m < kGroupM ? tiles_m - first_m : kGroupM;
  int64_t r = id % per_group;
  tm = first_m + r % rows;
  tn = r / rows;
}

template <class T>
__device__ __forceinline__ float to_float(T v) {
  return (float)v;
}
template <class T>
__device__ __forceinline__ T from_float(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else return T(v);
}

// Four consecutive shared-memory values (16-byte aligned for float).
template <class T>
__device__ __forceinline__ void load4(const T* p, T out[4]) {
  if constexpr (std::is_same_v<T, float>) {
    float4 v = *reinterpret_cast<const float4*>(p);
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
  } else {
    DLCORE_UNROLL
    for (int j = 0; j < 4; ++j) out[j] = p[j];
  }
}

// ------------------------------------------------------------------------------------------------ SIMT kernel
// Block tile BM x BN x BK; thread tile (4*TMG) x (4*TNG); threads = warps_m * warps_n * 32 with
// warps_m = BM / (32*TMG), warps_n = BN / (16*TNG). Configs (gemm_cuda.cu): float 128x128x8 with 8x8 per thread
// and 64x64x16 with 4x4 per thread (small/skinny problems); double 64x64x16 with 4x4.
template <int BM, int BN, int BK, int TMG, int TNG>
struct SimtConfig {
  static constexpr int kWarpsM = BM / (32 * TMG), kWarpsN = BN / (16 * TNG);
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kLoadA = BM * BK / kThreads, kLoadB = BK * BN / kThreads;  // elements per thread
  static constexpr int kPad = 4;
  static_assert(BM % (32 * TMG) == 0 && BN % (16 * TNG) == 0, "warp tiling must divide the block tile");
  static_assert(kLoadA % 4 == 0 && kLoadB % 4 == 0 && BK % 4 == 0, "each thread loads whole 16-byte vectors");
};

// Element slot i (0 <= i < L) of this thread's share of an R x BK operand tile (R = BM for A, BN for B), as
// (row r, k): the same mapping for the global load and the shared store.
template <int R, int BK, int NT>
__device__ __forceinline__ void slot_coords(int mode, int kfast, int tid, int i, int& r, int& k) {
  if (mode == kVecK) {
    int v = tid + (i / 4) * NT;
    r = v / (BK / 4);
    k = (v % (BK / 4)) * 4 + i % 4;
  } else if (mode == kVecMN) {
    int v = tid + (i / 4) * NT;
    k = v / (R / 4);
    r = (v % (R / 4)) * 4 + i % 4;
  } else {
    int e = tid + i * NT;
    if (kfast) {  // neighbouring threads read neighbouring k (coalesced when the k stride is the smaller one)
      r = e / BK;
      k = e % BK;
    } else {
      r = e % R;
      k = e / R;
    }
  }
}

// Loads this thread's L elements of the R x BK tile at (r0, k0) of X (element (r, k) at X[r * rs + k * ks], R_tot
// rows, K columns) into regs; out-of-range elements are 0.
template <class T, int R, int BK, int NT, int L>
__device__ __forceinline__ void load_tile(const T* X, int64_t rs, int64_t ks, int64_t R_tot, int64_t K, int64_t r0,
                                          int64_t k0, int mode, int kfast, T regs[L]) {
  const int tid = threadIdx.x;
  if (mode != kScalar) {
    DLCORE_UNROLL
    for (int v = 0; v < L / 4; ++v) {
      int r, k;
      slot_coords<R, BK, NT>(mode, kfast, tid, 4 * v, r, k);
      int64_t gr = r0 + r, gk = k0 + k;
      // The 4 elements run along k (VecK) or along r (VecMN).
      bool full = mode == kVecK ? (gr < R_tot && gk + 3 < K) : (gk < K && gr + 3 < R_tot);
      if constexpr (std::is_same_v<T, float>) {
        if (full) {
          float4 q = *reinterpret_cast<const float4*>(X + gr * rs + gk * ks);
          regs[4 * v + 0] = q.x;
          regs[4 * v + 1] = q.y;
          regs[4 * v + 2] = q.z;
          regs[4 * v + 3] = q.w;
          continue;
        }
      }
      DLCORE_UNROLL
      for (int j = 0; j < 4; ++j) {
        int64_t er = mode == kVecK ? gr : gr + j, ek = mode == kVecK ? gk + j : gk;
        regs[4 * v + j] = (er < R_tot && ek < K) ? X[er * rs + ek * ks] : T(0);
      }
    }
  } else {
    DLCORE_UNROLL
    for (int i = 0; i < L; ++i) {
      int r, k;
      slot_coords<R, BK, NT>(mode, kfast, tid, i, r, k);
      int64_t gr = r0 + r, gk = k0 + k;
      regs[i] = (gr < R_tot && gk < K) ? X[gr * rs + gk * ks] : T(0);
    }
  }
}

// Stores the regs of load_tile into the k-major shared tile S[k][r] (row length R + pad).
template <class T, int R, int BK, int NT, int L, int LD>
__device__ __forceinline__ void store_tile(T* S, int mode, int kfast, const T regs[L]) {
  const int tid = threadIdx.x;
  if constexpr (std::is_same_v<T, float>) {
    if (mode == kVecMN) {  // 4 consecutive rows at one k: one 16-byte store (r % 4 == 0, LD % 4 == 0)
      DLCORE_UNROLL
      for (int v = 0; v < L / 4; ++v) {
        int r, k;
        slot_coords<R, BK, NT>(mode, kfast, tid, 4 * v, r, k);
        *reinterpret_cast<float4*>(S + k * LD + r) =
            make_float4(regs[4 * v], regs[4 * v + 1], regs[4 * v + 2], regs[4 * v + 3]);
      }
      return;
    }
  }
  DLCORE_UNROLL
  for (int i = 0; i < L; ++i) {
    int r, k;
    slot_coords<R, BK, NT>(mode, kfast, tid, i, r, k);
    S[k * LD + r] = regs[i];
  }
}

template <class T, class S, int BM, int BN, int BK, int TMG, int TNG>
__global__ void __launch_bounds__(SimtConfig<BM, BN, BK, TMG, TNG>::kThreads)
    gemm_simt_kernel(const GemmParams<T, S> p) {
  using Cfg = SimtConfig<BM, BN, BK, TMG, TNG>;
  constexpr int NT = Cfg::kThreads, LA = Cfg::kLoadA, LB = Cfg::kLoadB;
  constexpr int LDA = BM + Cfg::kPad, LDB = BN + Cfg::kPad;
  constexpr int TM = 4 * TMG, TN = 4 * TNG;
  __shared__ __align__(16) T As[2][BK * LDA];
  __shared__ __align__(16) T Bs[2][BK * LDB];

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm0 = (warp / Cfg::kWarpsN) * (32 * TMG), wn0 = (warp % Cfg::kWarpsN) * (16 * TNG);
  const int lm = lane / 4, ln = lane % 4;
  // Scalar loads: let neighbouring threads walk the dimension with the smaller stride.
  const int a_kfast = p.cs_a <= p.rs_a, b_kfast = p.rs_b <= p.cs_b;
  const int64_t tiles_m = (p.M + BM - 1) / BM, tiles_n = (p.N + BN - 1) / BN, tiles = tiles_m * tiles_n;
  const int64_t nk = (p.K + BK - 1) / BK;

  for (int64_t z = blockIdx.z; z < p.batch; z += gridDim.z) {
    const T* A = p.A + z * p.sa;
    const T* B = p.B + z * p.sb;
    T* C = p.C + z * p.sc;
    for (int64_t id = blockIdx.x; id < tiles; id += gridDim.x) {
      int64_t tm, tn;
      tile_coords(id, tiles_m, tiles_n, tm, tn);
      const int64_t m0 = tm * BM, n0 = tn * BN;

      S acc[TM][TN];
      DLCORE_UNROLL
      for (int i = 0; i < TM; ++i) {
        DLCORE_UNROLL
        for (int j = 0; j < TN; ++j) acc[i][j] = S(0);
      }
      T ra[LA], rb[LB];
      // B as an N x K operand: element (n, k) at B[n * cs_b + k * rs_b].
      if (nk > 0) {
        load_tile<T, BM, BK, NT, LA>(A, p.rs_a, p.cs_a, p.M, p.K, m0, 0, p.a_mode, a_kfast, ra);
        load_tile<T, BN, BK, NT, LB>(B, p.cs_b, p.rs_b, p.N, p.K, n0, 0, p.b_mode, b_kfast, rb);
        store_tile<T, BM, BK, NT, LA, LDA>(As[0], p.a_mode, a_kfast, ra);
        store_tile<T, BN, BK, NT, LB, LDB>(Bs[0], p.b_mode, b_kfast, rb);
      }
      __syncthreads();
      for (int64_t kt = 0; kt < nk; ++kt) {
        const int buf = (int)(kt & 1);
        const bool more = kt + 1 < nk;
        if (more) {  // the next slice travels from global memory while this one is computed
          load_tile<T, BM, BK, NT, LA>(A, p.rs_a, p.cs_a, p.M, p.K, m0, (kt + 1) * BK, p.a_mode, a_kfast, ra);
          load_tile<T, BN, BK, NT, LB>(B, p.cs_b, p.rs_b, p.N, p.K, n0, (kt + 1) * BK, p.b_mode, b_kfast, rb);
        }
        const T* as = As[buf];
        const T* bs = Bs[buf];
        DLCORE_UNROLL
        for (int kk = 0; kk < BK; ++kk) {
          T a[TM], b[TN];
          DLCORE_UNROLL
          for (int i = 0; i < TMG; ++i) load4(as + kk * LDA + wm0 + i * 32 + lm * 4, a + 4 * i);
          DLCORE_UNROLL
          for (int j = 0; j < TNG; ++j) load4(bs + kk * LDB + wn0 + j * 16 + ln * 4, b + 4 * j);
          DLCORE_UNROLL
          for (int i = 0; i < TM; ++i) {
            DLCORE_UNROLL
            for (int j = 0; j < TN; ++j) acc[i][j] += (S)a[i] * (S)b[j];
          }
        }
        if (more) {  // the other buffer was last read before the previous barrier
          store_tile<T, BM, BK, NT, LA, LDA>(As[buf ^ 1], p.a_mode, a_kfast, ra);
          store_tile<T, BN, BK, NT, LB, LDB>(Bs[buf ^ 1], p.b_mode, b_kfast, rb);
        }
        __syncthreads();
      }

      // Store: rows m0 + wm0 + 32*(i/4) + 4*lm + i%4, columns n0 + wn0 + 16*(j/4) + 4*ln + j%4.
      const bool has_bias = p.bias_kind != (int)BiasKind::None;
      DLCORE_UNROLL
      for (int i = 0; i < TM; ++i) {
        const int64_t m = m0 + wm0 + (i / 4) * 32 + lm * 4 + i % 4;
        if (m >= p.M) continue;
        const S brow = (p.bias_kind == (int)BiasKind::PerRow) ? (S)p.bias[m] : S(0);
        DLCORE_UNROLL
        for (int jg = 0; jg < TNG; ++jg) {
          const int64_t n = n0 + wn0 + jg * 16 + ln * 4;
          T* c = C + m * p.rs_c + n * p.cs_c;
          if constexpr (std::is_same_v<T, float>) {
            if (p.c_vec && n + 3 < p.N) {
              float4 old = make_float4(0.f, 0.f, 0.f, 0.f);
              if (p.beta != S(0)) old = *reinterpret_cast<const float4*>(c);
              float o[4] = {old.x, old.y, old.z, old.w}, v[4];
              DLCORE_UNROLL
              for (int j = 0; j < 4; ++j) {
                S bj = p.bias_kind == (int)BiasKind::PerCol ? (S)p.bias[n + j] : brow;
                v[j] = gemm_epilogue_value<S>(acc[i][jg * 4 + j], p.alpha, p.beta, o[j], has_bias, bj, p.relu != 0);
              }
              *reinterpret_cast<float4*>(c) = make_float4(v[0], v[1], v[2], v[3]);
              continue;
            }
          }
          DLCORE_UNROLL
          for (int j = 0; j < 4; ++j) {
            if (n + j >= p.N) break;
            T* cj = c + j * p.cs_c;
            S old = p.beta != S(0) ? (S)*cj : S(0);
            S bj = p.bias_kind == (int)BiasKind::PerCol ? (S)p.bias[n + j] : brow;
            *cj = gemm_epilogue_value<S>(acc[i][jg * 4 + j], p.alpha, p.beta, old, has_bias, bj, p.relu != 0);
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------ launchers
// Defined in gemm_cuda.cu (float SIMT), gemm_f64_cuda.cu (double SIMT) and gemm_mma_cuda.cu (tensor cores).
enum class SimtTile : int { Big = 0, Small = 1 };  // 128x128x8 (8x8 per thread) / 64x64x16 (4x4 per thread)
void launch_simt_f32(const GemmParams<float, float>& p, SimtTile tile, cuda::Stream s);
void launch_simt_f64(const GemmParams<double, double>& p, cuda::Stream s);
template <class T>
void launch_mma(const GemmParams<T, float>& p, cuda::Stream s);

// Host: grid of a GEMM launch (x: tiles in grouped order, z: batch entries; kernels loop over the rest).
inline dim3 gemm_grid(int64_t M, int64_t N, int64_t batch, int BM, int BN) {
  int64_t tiles = ((M + BM - 1) / BM) * ((N + BN - 1) / BN);
  int64_t x = tiles < (int64_t(1) << 30) ? tiles : (int64_t(1) << 30);
  int64_t z = batch < 65535 ? batch : 65535;
  return dim3((unsigned)(x < 1 ? 1 : x), 1u, (unsigned)(z < 1 ? 1 : z));
}

}  // namespace dlcore::gemm_cuda_detail
