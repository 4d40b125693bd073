// CUDA embedding: launchers and registration for DeviceType::CUDA (kernels in embedding_kernels.cuh; the indices
// are range-checked by the shared frontend before dispatch).
#include "ops/embedding/embedding_kernels.cuh"

namespace dlcore::embedding_cuda {

void embedding_bwd_launch_f64(const Tensor& gw, const Tensor& g, const Tensor& idx, int64_t padding_idx, bool freq);

namespace {

void embedding_fwd_cuda(const Tensor& out, const Tensor& weight, const Tensor& idx) {
  int64_t M = idx.numel(), D = weight.size(1);
  if (M * D == 0) return;
  cuda::Stream s = cuda::current_stream();
  const int64_t* ix = idx.data<int64_t>();
  if (weight.itemsize() == 8) {
    auto* k = &embedding_fwd_kernel<uint64_t>;
    DLCORE_LAUNCH(k, cuda::blocks_for(M * D, kThreads), kThreads, 0, s)(
        static_cast<uint64_t*>(out.raw_data()), static_cast<const uint64_t*>(weight.raw_data()), ix, M, D);
  } else {
    auto* k = &embedding_fwd_kernel<uint32_t>;
    DLCORE_LAUNCH(k, cuda::blocks_for(M * D, kThreads), kThreads, 0, s)(
        static_cast<uint32_t*>(out.raw_data()), static_cast<const uint32_t*>(weight.raw_data()), ix, M, D);
  }
}

void embedding_bwd_cuda(const Tensor& gw, const Tensor& g, const Tensor& idx, int64_t padding_idx, bool freq) {
  if (gw.dtype() == DType::Float64) return embedding_bwd_launch_f64(gw, g, idx, padding_idx, freq);
  embedding_bwd_launch<float>(gw, g, idx, padding_idx, freq);
}

KernelRegistrar r1(embedding_fwd_op, DeviceType::CUDA, &embedding_fwd_cuda, "cuda");
KernelRegistrar r2(embedding_bwd_op, DeviceType::CUDA, &embedding_bwd_cuda, "cuda");

}  // namespace

}  // namespace dlcore::embedding_cuda
