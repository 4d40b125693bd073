// CUDA batch_norm and local_response_norm: dtype dispatch and registration for DeviceType::CUDA (kernels in
// norm_kernels.cuh; validation is the shared frontend's, before dispatch).
#include "ops/norm/norm_kernels.cuh"

namespace dlcore::norm_cuda {

namespace {

const NormCudaFns& fns(const Tensor& t) {
  static const NormCudaFns f32 = norm_cuda_fns<float>();
  static const NormCudaFns f64 = norm_cuda_fns_f64();
  return t.dtype() == DType::Float64 ? f64 : f32;
}

void bn_fwd_cuda(const Tensor& y, const Tensor& sm, const Tensor& si, const Tensor& x, const Tensor& w, const Tensor& b,
                 const Tensor& rm, const Tensor& rv, const BatchNormArgs& a) {
  fns(x).bn_fwd(y, sm, si, x, w, b, rm, rv, a);
}
void bn_bwd_cuda(const Tensor& gx, const Tensor& gw, const Tensor& gb, const Tensor& g, const Tensor& x,
                 const Tensor& w, const Tensor& mean, const Tensor& invstd, bool training) {
  fns(x).bn_bwd(gx, gw, gb, g, x, w, mean, invstd, training);
}
void lrn_fwd_cuda(const Tensor& y, const Tensor& x, const LrnArgs& a) { fns(x).lrn_fwd(y, x, a); }
void lrn_bwd_cuda(const Tensor& gx, const Tensor& g, const Tensor& x, const LrnArgs& a) { fns(x).lrn_bwd(gx, g, x, a); }

KernelRegistrar r1(batch_norm_fwd_op, DeviceType::CUDA, &bn_fwd_cuda, "cuda");
KernelRegistrar r2(batch_norm_bwd_op, DeviceType::CUDA, &bn_bwd_cuda, "cuda");
KernelRegistrar r3(lrn_fwd_op, DeviceType::CUDA, &lrn_fwd_cuda, "cuda");
KernelRegistrar r4(lrn_bwd_op, DeviceType::CUDA, &lrn_bwd_cuda, "cuda");

}  // namespace

}  // namespace dlcore::norm_cuda
