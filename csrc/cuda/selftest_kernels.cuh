// Test-only kernels for the emulator's own tests (tests/test_emu_selftest.py) and for checking the emulator against
// a real device (scripts/gpu_check.sh runs the same tests there). Each exercises one piece of the SIMT model.
#pragma once
#include "cuda/cuda_kernel.cuh"
#include "cuda/ptx.cuh"

namespace dlcore::selftest {

// Each thread writes its value to shared memory and reads its right neighbour's (wrapping within the block):
// correct only with the barrier between the write and the read.
__global__ void neighbour_kernel(const float* in, float* out, int n, int use_barrier) {
  __shared__ float tile[1024];
  int t = threadIdx.x;
  int i = blockIdx.x * blockDim.x + t;
  tile[t] = i < n ? in[i] : 0.0f;
  if (use_barrier) __syncthreads();
  int j = (t + 1) % blockDim.x;
  if (i < n) out[i] = tile[j];
}

// Per thread of a block of 32 * warps: results of every shuffle flavour and the votes.
// out: [8, nthreads] int32: shfl(src), shfl_up(delta), shfl_down(delta), shfl_xor(xmask), ballot, any, all,
// activemask. Values shuffled are vals[i]; pred[i] is the vote predicate.
__global__ void warp_ops_kernel(const int* vals, const int* pred, int* out, int n, int src, int delta, int xmask,
                                int width) {
  int i = threadIdx.x;
  unsigned full = 0xffffffffu;
  // Read first: the emulator's __activemask is the warp's lanes that have not exited (it cannot see convergence).
  out[7 * n + i] = (int)__activemask();
  int v = vals[i];
  out[0 * n + i] = __shfl_sync(full, v, src, width);
  out[1 * n + i] = __shfl_up_sync(full, v, (unsigned)delta, width);
  out[2 * n + i] = __shfl_down_sync(full, v, (unsigned)delta, width);
  out[3 * n + i] = __shfl_xor_sync(full, v, xmask, width);
  out[4 * n + i] = (int)__ballot_sync(full, pred[i]);
  out[5 * n + i] = __any_sync(full, pred[i]);
  out[6 * n + i] = __all_sync(full, pred[i]);
}

// Shuffles of float and double values (the emulator moves 8-byte values in one piece).
__global__ void shfl_float_kernel(const float* x, const double* y, float* ox, double* oy) {
  int i = threadIdx.x;
  ox[i] = __shfl_xor_sync(0xffffffffu, x[i], 1);
  oy[i] = __shfl_down_sync(0xffffffffu, y[i], 3);
}

// Warp-then-block sum of in[0:n] into out[blockIdx.x], where threads with index >= active exit at once.
// Exited threads count as arrived at __syncthreads, so the barriers still release.
__global__ void early_exit_sum_kernel(const float* in, float* out, int n, int active) {
  __shared__ float partial[32];
  int t = threadIdx.x;
  if (t >= active) return;
  float v = 0.0f;
  for (int i = t; i < n; i += active) v += in[i];
  // Warps whose lanes are all active reduce with shuffles; the partial warp uses shared memory.
  int warp = t / 32, lane = t % 32;
  int warp_lanes = min(32, active - warp * 32);
  if (warp_lanes == 32) {
    for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
    if (lane == 0) partial[warp] = v;
  } else {
    unsigned m = (warp_lanes == 32) ? 0xffffffffu : ((1u << warp_lanes) - 1u);
    for (int off = 16; off > 0; off /= 2) {
      float o = __shfl_down_sync(m, v, off);
      if (lane + off < warp_lanes) v += o;
    }
    if (lane == 0) partial[warp] = v;
  }
  __syncthreads();
  if (t == 0) {
    float s = 0.0f;
    int nw = (active + 31) / 32;
    for (int w = 0; w < nw; ++w) s += partial[w];
    out[blockIdx.x] = s;
  }
}

// Lanes 0..15 exit; lanes 16..31 then shuffle with a full mask, which names the exited lanes: an error.
__global__ void bad_mask_kernel(float* out) {
  int t = threadIdx.x;
  if (t < 16) return;
  out[t] = __shfl_sync(0xffffffffu, (float)t, 0);
}

// Warp 1's lanes 0..15 wait at a full-mask shuffle while its lanes 16..31 (and warp 0) wait at __syncthreads:
// neither can complete, a deadlock.
__global__ void deadlock_kernel(float* out) {
  int t = threadIdx.x;
  if (t >= 32 && t < 48) {
    out[t] = __shfl_sync(0xffffffffu, (float)t, 0);
  } else {
    __syncthreads();
  }
}

// Atomics across the whole grid: counts[0] += 1 per thread (int), fsum += x[i] (float), maxv = max(x_int),
// cas_slot gets the first thread's id by CAS.
__global__ void atomics_kernel(const float* x, const int* xi, int n, int* count, float* fsum, int* maxv,
                               unsigned long long* ucount, int* cas_slot) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  atomicAdd(count, 1);
  atomicAdd(fsum, x[i]);
  atomicMax(maxv, xi[i]);
  atomicAdd(ucount, 2ull);
  atomicCAS(cas_slot, -1, i);
}

// Dynamic shared memory: each thread writes its value at position t (for t < written), barrier, then reads
// position blockDim - 1 - t. Positions never written keep the arena's initial contents (NaN in the emulator).
__global__ void dynamic_smem_kernel(const float* in, float* out, int written) {
  DLCORE_DYNAMIC_SMEM(float, buf);
  int t = threadIdx.x;
  int i = blockIdx.x * blockDim.x + t;
  if (t < written) buf[t] = in[i];
  __syncthreads();
  out[i] = buf[blockDim.x - 1 - t];
}

// __syncthreads_count / _and / _or of pred[i].
__global__ void sync_count_kernel(const int* pred, int* out) {
  int t = threadIdx.x;
  int c = __syncthreads_count(pred[t]);
  int a = __syncthreads_and(pred[t]);
  int o = __syncthreads_or(pred[t]);
  if (t == 0) {
    out[0] = c;
    out[1] = a;
    out[2] = o;
  }
}

// One warp: loads A (16xK row-major), B (Kx8 row-major), C (16x8) in the documented fragment layouts, runs the mma
// and stores D (16x8). kind 0: tf32 (float inputs, K=8); 1: bf16, 2: f16 (16-bit inputs as uint16 bits, K=16).
__global__ void mma_kernel(const void* A, const void* B, const float* C, float* D, int kind) {
  int lane = threadIdx.x;
  int g = lane / 4, t = lane % 4;
  uint32_t a[4], b[2];
  float c[4], d[4];
  c[0] = C[g * 8 + 2 * t];
  c[1] = C[g * 8 + 2 * t + 1];
  c[2] = C[(g + 8) * 8 + 2 * t];
  c[3] = C[(g + 8) * 8 + 2 * t + 1];
  if (kind == 0) {
    const uint32_t* Af = static_cast<const uint32_t*>(A);
    const uint32_t* Bf = static_cast<const uint32_t*>(B);
    a[0] = Af[g * 8 + t];
    a[1] = Af[(g + 8) * 8 + t];
    a[2] = Af[g * 8 + t + 4];
    a[3] = Af[(g + 8) * 8 + t + 4];
    b[0] = Bf[t * 8 + g];
    b[1] = Bf[(t + 4) * 8 + g];
    ptx::mma_m16n8k8_tf32(d, a, b, c);
  } else {
    const uint16_t* Ah = static_cast<const uint16_t*>(A);
    const uint16_t* Bh = static_cast<const uint16_t*>(B);
    for (int r = 0; r < 4; ++r) {
      int row = g + ((r & 1) ? 8 : 0), col = 2 * t + ((r & 2) ? 8 : 0);
      a[r] = (uint32_t)Ah[row * 16 + col] | ((uint32_t)Ah[row * 16 + col + 1] << 16);
    }
    for (int r = 0; r < 2; ++r) {
      int row = 2 * t + (r ? 8 : 0);
      b[r] = (uint32_t)Bh[row * 8 + g] | ((uint32_t)Bh[(row + 1) * 8 + g] << 16);
    }
    if (kind == 1) ptx::mma_m16n8k16_bf16(d, a, b, c);
    else ptx::mma_m16n8k16_f16(d, a, b, c);
  }
  D[g * 8 + 2 * t] = d[0];
  D[g * 8 + 2 * t + 1] = d[1];
  D[(g + 8) * 8 + 2 * t] = d[2];
  D[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// One warp: copies M (nmat 8x8 uint16 matrices, row-major, contiguous) to shared memory, then ldmatrix.x{nmat}
// (trans or not); out[lane * 4 + m] = register m of lane.
template <int N, bool Trans>
__global__ void ldmatrix_kernel(const uint16_t* M, uint32_t* out) {
  __shared__ __align__(16) uint16_t sm[4 * 64];
  int lane = threadIdx.x;
  for (int i = lane; i < N * 64; i += 32) sm[i] = M[i];
  __syncwarp();
  uint32_t r[N];
  int m = lane / 8, row = lane % 8;
  const uint16_t* addr = &sm[(m < N ? m : 0) * 64 + row * 8];
  ptx::ldmatrix<N, Trans>(r, addr);
  for (int k = 0; k < 4; ++k) out[lane * 4 + k] = k < N ? r[k] : 0u;
}

// A block copies in[0:n] (n = 4 * blockDim floats) into shared memory with 16-byte cp.async in two committed
// groups, waits (or, with skip_wait, does not), barrier, and writes the shared contents reversed to out.
__global__ void cp_async_kernel(const float* in, float* out, int skip_wait) {
  DLCORE_DYNAMIC_SMEM(float, buf);
  int t = threadIdx.x;
  int half = blockDim.x / 2;
  int n = 4 * blockDim.x;
  // group 0: the first half of the 16-byte chunks; group 1: the rest (the last chunk is zero-filled).
  if (t < half) ptx::cp_async<16>(&buf[4 * t], &in[4 * t]);
  ptx::cp_async_commit();
  if (t >= half) ptx::cp_async<16>(&buf[4 * t], &in[4 * t], t == (int)blockDim.x - 1 ? 0 : 16);
  ptx::cp_async_commit();
  if (!skip_wait) ptx::cp_async_wait<0>();
  __syncthreads();
  for (int k = 0; k < 4; ++k) out[n - 1 - (4 * t + k)] = buf[4 * t + k];
}

// The speed kernel: each thread writes shared memory, and after each of `rounds` barriers reads a neighbour's
// value into its own slot (a few barriers per thread, as in a tiled kernel).
__global__ void barrier_rounds_kernel(float* out, int n, int rounds) {
  __shared__ float s[1024];
  int t = threadIdx.x;
  int i = blockIdx.x * blockDim.x + t;
  s[t] = (float)t;
  for (int r = 0; r < rounds; ++r) {
    __syncthreads();
    float v = s[(t + 1) % blockDim.x];
    __syncthreads();
    s[t] = v;
  }
  if (i < n) out[i] = s[t];
}

// Out-of-bounds write (for the AddressSanitizer build check): writes out[n] as well.
__global__ void oob_write_kernel(float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) out[i] = 1.0f;
}

}  // namespace dlcore::selftest
