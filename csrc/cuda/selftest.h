// Host entry points of the test-only kernels (selftest_kernels.cuh), bound as dlcore._C._emu_* by
// bindings/cuda_bind.cpp. Tensors are cuda tensors of the stated dtypes, contiguous; sizes are checked by the
// Python tests, not here (test hooks, not API).
#pragma once
#include "core/tensor.h"

namespace dlcore::selftest {

void neighbour(const Tensor& in, const Tensor& out, int block, bool use_barrier);
void warp_ops(const Tensor& vals, const Tensor& pred, const Tensor& out, int src, int delta, int xmask, int width);
void shfl_float(const Tensor& x, const Tensor& y, const Tensor& ox, const Tensor& oy);
void early_exit_sum(const Tensor& in, const Tensor& out, int block, int active);
void bad_mask(const Tensor& out);
void deadlock(const Tensor& out);
void atomics(const Tensor& x, const Tensor& xi, const Tensor& count, const Tensor& fsum, const Tensor& maxv,
             const Tensor& ucount, const Tensor& cas_slot, int block);
void dynamic_smem(const Tensor& in, const Tensor& out, int block, int written);
void sync_count(const Tensor& pred, const Tensor& out);
void mma(const Tensor& A, const Tensor& B, const Tensor& C, const Tensor& D, int kind);
void ldmatrix(const Tensor& M, const Tensor& out, int n, bool trans);
void cp_async(const Tensor& in, const Tensor& out, int block, bool skip_wait);
void barrier_rounds(const Tensor& out, int block, int rounds);
void oob_write(const Tensor& out);

}  // namespace dlcore::selftest
