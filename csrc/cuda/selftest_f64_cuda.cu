// Launchers of the test-only kernels (see selftest.h). Named *_f64_cuda.cu: the shuffle test moves doubles, which
// the double-usage gate would reject in any other file.
#include "cuda/selftest.h"

#include "cuda/selftest_kernels.cuh"

namespace dlcore::selftest {

namespace {
cuda::Stream S() { return cuda::current_stream(); }
unsigned nblocks(int64_t n, int block) { return (unsigned)((n + block - 1) / block); }
}  // namespace

void neighbour(const Tensor& in, const Tensor& out, int block, bool use_barrier) {
  int n = (int)in.numel();
  DLCORE_LAUNCH(neighbour_kernel, nblocks(n, block), block, 0, S())(in.data<float>(), out.data<float>(), n,
                                                                      (int)use_barrier);
}

void warp_ops(const Tensor& vals, const Tensor& pred, const Tensor& out, int src, int delta, int xmask, int width) {
  int n = (int)vals.numel();
  DLCORE_LAUNCH(warp_ops_kernel, 1, n, 0, S())(vals.data<int>(), pred.data<int>(), out.data<int>(), n, src, delta,
                                               xmask, width);
}

void shfl_float(const Tensor& x, const Tensor& y, const Tensor& ox, const Tensor& oy) {
  DLCORE_LAUNCH(shfl_float_kernel, 1, 32, 0, S())(x.data<float>(), y.data<double>(), ox.data<float>(),
                                                  oy.data<double>());
}

void early_exit_sum(const Tensor& in, const Tensor& out, int block, int active) {
  DLCORE_LAUNCH(early_exit_sum_kernel, (unsigned)out.numel(), block, 0, S())(in.data<float>(), out.data<float>(),
                                                                             (int)in.numel(), active);
}

void bad_mask(const Tensor& out) { DLCORE_LAUNCH(bad_mask_kernel, 1, 32, 0, S())(out.data<float>()); }

void deadlock(const Tensor& out) { DLCORE_LAUNCH(deadlock_kernel, 1, 64, 0, S())(out.data<float>()); }

void atomics(const Tensor& x, const Tensor& xi, const Tensor& count, const Tensor& fsum, const Tensor& maxv,
             const Tensor& ucount, const Tensor& cas_slot, int block) {
  int n = (int)x.numel();
  DLCORE_LAUNCH(atomics_kernel, nblocks(n, block), block, 0, S())(
      x.data<float>(), xi.data<int>(), n, count.data<int>(), fsum.data<float>(), maxv.data<int>(),
      reinterpret_cast<unsigned long long*>(ucount.data<int64_t>()), cas_slot.data<int>());
}

void dynamic_smem(const Tensor& in, const Tensor& out, int block, int written) {
  DLCORE_LAUNCH(dynamic_smem_kernel, nblocks(in.numel(), block), block, block * sizeof(float), S())(
      in.data<float>(), out.data<float>(), written);
}

void sync_count(const Tensor& pred, const Tensor& out) {
  DLCORE_LAUNCH(sync_count_kernel, 1, (unsigned)pred.numel(), 0, S())(pred.data<int>(), out.data<int>());
}

void mma(const Tensor& A, const Tensor& B, const Tensor& C, const Tensor& D, int kind) {
  DLCORE_LAUNCH(mma_kernel, 1, 32, 0, S())(static_cast<const void*>(A.raw_data()),
                                           static_cast<const void*>(B.raw_data()), C.data<float>(), D.data<float>(),
                                           kind);
}

void ldmatrix(const Tensor& M, const Tensor& out, int n, bool trans) {
  const uint16_t* m = reinterpret_cast<const uint16_t*>(M.raw_data());
  uint32_t* o = reinterpret_cast<uint32_t*>(out.raw_data());
  auto* k1 = &ldmatrix_kernel<1, false>;
  auto* k1t = &ldmatrix_kernel<1, true>;
  auto* k2 = &ldmatrix_kernel<2, false>;
  auto* k2t = &ldmatrix_kernel<2, true>;
  auto* k4 = &ldmatrix_kernel<4, false>;
  auto* k4t = &ldmatrix_kernel<4, true>;
  if (n == 1) {
    if (trans) DLCORE_LAUNCH(k1t, 1, 32, 0, S())(m, o);
    else DLCORE_LAUNCH(k1, 1, 32, 0, S())(m, o);
  } else if (n == 2) {
    if (trans) DLCORE_LAUNCH(k2t, 1, 32, 0, S())(m, o);
    else DLCORE_LAUNCH(k2, 1, 32, 0, S())(m, o);
  } else {
    if (trans) DLCORE_LAUNCH(k4t, 1, 32, 0, S())(m, o);
    else DLCORE_LAUNCH(k4, 1, 32, 0, S())(m, o);
  }
}

void cp_async(const Tensor& in, const Tensor& out, int block, bool skip_wait) {
  DLCORE_LAUNCH(cp_async_kernel, 1, block, 4 * block * sizeof(float), S())(in.data<float>(), out.data<float>(),
                                                                           (int)skip_wait);
}

void barrier_rounds(const Tensor& out, int block, int rounds) {
  int n = (int)out.numel();
  DLCORE_LAUNCH(barrier_rounds_kernel, nblocks(n, block), block, 0, S())(out.data<float>(), n, rounds);
}

void oob_write(const Tensor& out) {
  int n = (int)out.numel();
  DLCORE_LAUNCH(oob_write_kernel, nblocks(n + 1, 64), 64, 0, S())(out.data<float>(), n);
}

}  // namespace dlcore::selftest
