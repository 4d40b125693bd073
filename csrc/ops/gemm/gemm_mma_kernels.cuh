// CUDA GEMM on tensor cores through mma.sync (cuda/ptx.cuh): TF32 m16n8k8 for float32 (when allowed) and
// BF16/F16 m16n8k16 for bfloat16/float16, float32 accumulation in both. Contract: gemm_cuda.h.
//
// Design (the Ampere mma.sync GEMM of CUTLASS's sm80 kernels and of "How to write a fast GEMM with tensor cores"):
//   - block tile 128 x 128 x BK (BK = 64 bytes of k: 32 halves or 16 floats), 8 warps as 2 (m) x 4 (n), warp tile
//     64 x 32 = 4 x 4 mma tiles of 16 x 8, 64 float accumulators per thread;
//   - a 3-stage cp.async pipeline (global -> shared without registers): while slice kt is computed, slices kt+1
//     and kt+2 are in flight; one cp.async.wait_group + __syncthreads per slice;
//   - each operand has a shared layout chosen from its global layout so cp.async moves 16-byte chunks unchanged:
//     kKMajor (smem [rows][k], global contiguous along k) or kMNMajor (smem [k][rows], global contiguous along m or
//     n); fragments come from ldmatrix (kKMajor) or ldmatrix.trans (kMNMajor) for 16-bit types, from 32-bit shared
//     loads + cvt.rna.tf32 for TF32. Rows are padded by 16 bytes (kKMajor) / 8 elements (kMNMajor), which makes
//     the ldmatrix row reads and the TF32 fragment loads bank-conflict-free;
//   - an operand that is not contiguous (or not 16-byte aligned) is loaded element by element (plain loads and
//     shared stores, kKMajor layout) inside the same pipeline: correct for any strides, not fast;
//   - edge tiles: cp.async's zero fill (src_bytes < 16) for partial chunks and out-of-range rows, so the mma sees
//     zeros; the store skips out-of-range elements and applies alpha/beta/bias/ReLU (gemm_epilogue_value).
#pragma once
#include <type_traits>

#include "cuda/ptx.cuh"
#include "ops/gemm/gemm_kernels.cuh"

namespace dlcore::gemm_cuda_detail {

enum SmemLayout : int { kKMajor = 0, kMNMajor = 1 };

template <class T>
struct MmaConfig {
  static constexpr int BM = 128, BN = 128, kThreads = 256, kStages = 3;
  static constexpr int kElem = (int)sizeof(T);
  static constexpr int BK = 64 / kElem;         // 32 halves or 16 floats
  static constexpr int kChunk = 16 / kElem;     // elements per 16-byte cp.async
  static constexpr int kMmaK = kElem == 2 ? 16 : 8;
  // Leading dimensions (elements) of the two shared layouts, and the shared elements of one operand tile.
  static constexpr int kLdK = BK + kChunk;  // kKMajor: [128][BK + 16 bytes]
  static constexpr int kLdMN = 128 + 8;     // kMNMajor: [BK][128 + 8]
  static constexpr int tile_elems(int layout) { return layout == kKMajor ? 128 * kLdK : BK * kLdMN; }
  static constexpr int smem_bytes(int la, int lb) { return kStages * (tile_elems(la) + tile_elems(lb)) * kElem; }
};

// Raw 16/32-bit storage of T: operands are copied as bits (no conversion on the way to shared memory).
template <class T>
using MmaRaw = std::conditional_t<sizeof(T) == 2, uint16_t, uint32_t>;

// Issues the loads of one 128 x BK operand tile (rows r0.., k k0..) of X (element (r, k) at X[r * rs + k * ks],
// R rows, K columns) into the shared tile S. vec: the global layout matches `Layout` and is 16-byte aligned, so
// cp.async is used; otherwise element-wise loads into a kKMajor tile.
template <class T, int Layout>
__device__ __forceinline__ void mma_fill(MmaRaw<T>* S, const T* X, int64_t rs, int64_t ks, int64_t R, int64_t K,
                                         int64_t r0, int64_t k0, int vec) {
  using Cfg = MmaConfig<T>;
  using Raw = MmaRaw<T>;
  constexpr int BK = Cfg::BK, CH = Cfg::kChunk, NT = Cfg::kThreads;
  const int tid = threadIdx.x;
  const Raw* Xr = reinterpret_cast<const Raw*>(X);
  if (Layout == kMNMajor || vec) {  // kMNMajor is only chosen for a vectorisable operand (gemm_cuda.cu)
    constexpr int kChunks = 128 * BK / CH;  // 512
    DLCORE_UNROLL
    for (int i = 0; i < kChunks / NT; ++i) {
      const int c = tid + i * NT;
      int r, k;
      int64_t valid;
      if constexpr (Layout == kKMajor) {  // chunks run along k
        r = c / (BK / CH);
        k = (c % (BK / CH)) * CH;
        valid = (r0 + r < R) ? K - (k0 + k) : 0;
      } else {  // chunks run along the rows (m or n)
        k = c / (128 / CH);
        r = (c % (128 / CH)) * CH;
        valid = (k0 + k < K) ? R - (r0 + r) : 0;
      }
      valid = valid < 0 ? 0 : (valid > CH ? CH : valid);
      const Raw* src = valid > 0 ? Xr + (r0 + r) * rs + (k0 + k) * ks : Xr;
      Raw* dst = Layout == kKMajor ? S + r * Cfg::kLdK + k : S + k * Cfg::kLdMN + r;
      ptx::cp_async<16>(dst, src, (int)valid * Cfg::kElem);
    }
  } else {
    // Element-wise, neighbouring threads along the dimension with the smaller stride.
    const bool kfast = ks <= rs;
    DLCORE_UNROLL_N(4)
    for (int i = 0; i < 128 * BK / NT; ++i) {
      const int e = tid + i * NT;
      const int r = kfast ? e / BK : e % 128, k = kfast ? e % BK : e / 128;
      const int64_t gr = r0 + r, gk = k0 + k;
      S[r * Cfg::kLdK + k] = (gr < R && gk < K) ? Xr[gr * rs + gk * ks] : Raw(0);
    }
  }
}

template <class T>
__device__ __forceinline__ void mma_op(float d[4], const uint32_t a[4], const uint32_t b[2]) {
  if constexpr (std::is_same_v<T, BFloat16>) ptx::mma_m16n8k16_bf16(d, a, b, d);
  else if constexpr (std::is_same_v<T, Half>) ptx::mma_m16n8k16_f16(d, a, b, d);
  else ptx::mma_m16n8k8_tf32(d, a, b, d);
}

// A fragments of the warp's 4 m16 tiles and B fragments of its 4 n8 tiles for the k step at ks (see the layouts
// in cuda/ptx.cuh). sa/sb: the shared tiles of this stage.
template <class T, int LA, int LB>
__device__ __forceinline__ void mma_fragments(const MmaRaw<T>* sa, const MmaRaw<T>* sb, int wm0, int wn0, int ks,
                                              uint32_t af[4][4], uint32_t bf[4][2]) {
  using Cfg = MmaConfig<T>;
  const int lane = threadIdx.x % 32;
  if constexpr (sizeof(T) == 2) {
    const int r = lane % 8, q = lane / 8;  // ldmatrix: lane supplies row r of matrix q
    DLCORE_UNROLL
    for (int mi = 0; mi < 4; ++mi) {
      const int m = wm0 + mi * 16;
      if constexpr (LA == kKMajor) ptx::ldmatrix<4>(af[mi], sa + (m + r + (q & 1) * 8) * Cfg::kLdK + ks + (q >> 1) * 8);
      else ptx::ldmatrix<4, true>(af[mi], sa + (ks + (q >> 1) * 8 + r) * Cfg::kLdMN + m + (q & 1) * 8);
    }
    DLCORE_UNROLL
    for (int ni = 0; ni < 4; ni += 2) {  // one x4 load: (tile ni, k 0-7), (ni, k 8-15), (ni+1, 0-7), (ni+1, 8-15)
      const int n = wn0 + ni * 8;
      uint32_t t[4];
      if constexpr (LB == kKMajor) ptx::ldmatrix<4>(t, sb + (n + (q >> 1) * 8 + r) * Cfg::kLdK + ks + (q & 1) * 8);
      else ptx::ldmatrix<4, true>(t, sb + (ks + (q & 1) * 8 + r) * Cfg::kLdMN + n + (q >> 1) * 8);
      bf[ni][0] = t[0];
      bf[ni][1] = t[1];
      bf[ni + 1][0] = t[2];
      bf[ni + 1][1] = t[3];
    }
  } else {
    const int g = lane / 4, t = lane % 4;
    const float* fa = reinterpret_cast<const float*>(sa);
    const float* fb = reinterpret_cast<const float*>(sb);
    DLCORE_UNROLL
    for (int mi = 0; mi < 4; ++mi) {
      DLCORE_UNROLL
      for (int j = 0; j < 4; ++j) {  // a[j] = A[g + 8*(j&1)][t + 4*(j>>1)]
        const int m = wm0 + mi * 16 + g + (j & 1) * 8, k = ks + t + (j >> 1) * 4;
        af[mi][j] = ptx::to_tf32(LA == kKMajor ? fa[m * Cfg::kLdK + k] : fa[k * Cfg::kLdMN + m]);
      }
    }
    DLCORE_UNROLL
    for (int ni = 0; ni < 4; ++ni) {
      DLCORE_UNROLL
      for (int j = 0; j < 2; ++j) {  // b[j] = B[t + 4j][g]
        const int n = wn0 + ni * 8 + g, k = ks + t + j * 4;
        bf[ni][j] = ptx::to_tf32(LB == kKMajor ? fb[n * Cfg::kLdK + k] : fb[k * Cfg::kLdMN + n]);
      }
    }
  }
}

// LA / LB: shared layouts of A and B (kMNMajor only with p.a_mode / p.b_mode == kVecMN; kKMajor with kVecK uses
// cp.async, with kScalar element-wise loads).
template <class T, int LA, int LB>
__global__ void __launch_bounds__(256) gemm_mma_kernel(const GemmParams<T, float> p) {
  using Cfg = MmaConfig<T>;
  using Raw = MmaRaw<T>;
  constexpr int BK = Cfg::BK, ST = Cfg::kStages;
  constexpr int kTileA = Cfg::tile_elems(LA), kTileB = Cfg::tile_elems(LB);
  DLCORE_DYNAMIC_SMEM(Raw, smem);
  Raw* sA = smem;                 // ST tiles of A
  Raw* sB = smem + ST * kTileA;   // ST tiles of B

  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm0 = (warp / 4) * 64, wn0 = (warp % 4) * 32;
  const int a_vec = p.a_mode != kScalar, b_vec = p.b_mode != kScalar;
  const int64_t tiles_m = (p.M + Cfg::BM - 1) / Cfg::BM, tiles_n = (p.N + Cfg::BN - 1) / Cfg::BN;
  const int64_t tiles = tiles_m * tiles_n, nk = (p.K + BK - 1) / BK;

  for (int64_t z = blockIdx.z; z < p.batch; z += gridDim.z) {
    const T* A = p.A + z * p.sa;
    const T* B = p.B + z * p.sb;
    T* C = p.C + z * p.sc;
    for (int64_t id = blockIdx.x; id < tiles; id += gridDim.x) {
      int64_t tm, tn;
      tile_coords(id, tiles_m, tiles_n, tm, tn);
      const int64_t m0 = tm * Cfg::BM, n0 = tn * Cfg::BN;
      // B as an N x K operand: element (n, k) at B[n * cs_b + k * rs_b].
      auto fill = [&](int64_t kt, int stage) {
        mma_fill<T, LA>(sA + stage * kTileA, A, p.rs_a, p.cs_a, p.M, p.K, m0, kt * BK, a_vec);
        mma_fill<T, LB>(sB + stage * kTileB, B, p.cs_b, p.rs_b, p.N, p.K, n0, kt * BK, b_vec);
      };

      float acc[4][4][4];
      DLCORE_UNROLL
      for (int i = 0; i < 4; ++i) {
        DLCORE_UNROLL
        for (int j = 0; j < 4; ++j) {
          DLCORE_UNROLL
          for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.0f;
        }
      }
      // Prologue: slices 0 .. ST-2 in flight (one commit group per slice, empty groups keep the count).
      DLCORE_UNROLL
      for (int s = 0; s < ST - 1; ++s) {
        if (s < nk) fill(s, s);
        ptx::cp_async_commit();
      }
      for (int64_t kt = 0; kt < nk; ++kt) {
        ptx::cp_async_wait<ST - 2>();  // slice kt has landed (this thread's copies) ...
        __syncthreads();               // ... and everyone's; stage (kt-1) % ST is no longer read
        if (kt + ST - 1 < nk) fill(kt + ST - 1, (int)((kt + ST - 1) % ST));
        ptx::cp_async_commit();
        const int stage = (int)(kt % ST);
        const Raw* a_s = sA + stage * kTileA;
        const Raw* b_s = sB + stage * kTileB;
        DLCORE_UNROLL
        for (int ks = 0; ks < BK; ks += Cfg::kMmaK) {
          uint32_t af[4][4], bf[4][2];
          mma_fragments<T, LA, LB>(a_s, b_s, wm0, wn0, ks, af, bf);
          DLCORE_UNROLL
          for (int mi = 0; mi < 4; ++mi) {
            DLCORE_UNROLL
            for (int ni = 0; ni < 4; ++ni) mma_op<T>(acc[mi][ni], af[mi], bf[ni]);
          }
        }
      }
      ptx::cp_async_wait<0>();
      __syncthreads();  // the next tile's prologue overwrites the stages

      // Store: acc[mi][ni][r] is C[m0 + wm0 + 16 mi + g + 8 (r >> 1)][n0 + wn0 + 8 ni + 2 t + (r & 1)].
      const int g = lane / 4, t = lane % 4;
      const bool has_bias = p.bias_kind != (int)BiasKind::None;
      DLCORE_UNROLL
      for (int mi = 0; mi < 4; ++mi) {
        DLCORE_UNROLL
        for (int h = 0; h < 2; ++h) {
          const int64_t m = m0 + wm0 + mi * 16 + g + h * 8;
          if (m >= p.M) continue;
          const float brow = p.bias_kind == (int)BiasKind::PerRow ? to_float(p.bias[m]) : 0.0f;
          DLCORE_UNROLL
          for (int ni = 0; ni < 4; ++ni) {
            DLCORE_UNROLL
            for (int e = 0; e < 2; ++e) {
              const int64_t n = n0 + wn0 + ni * 8 + 2 * t + e;
              if (n >= p.N) continue;
              T* c = C + m * p.rs_c + n * p.cs_c;
              const float old = p.beta != 0.0f ? to_float(*c) : 0.0f;
              const float bj = p.bias_kind == (int)BiasKind::PerCol ? to_float(p.bias[n]) : brow;
              *c = from_float<T>(
                  gemm_epilogue_value<float>(acc[mi][ni][h * 2 + e], p.alpha, p.beta, old, has_bias, bj, p.relu != 0));
            }
          }
        }
      }
    }
  }
}

}  // namespace dlcore::gemm_cuda_detail
