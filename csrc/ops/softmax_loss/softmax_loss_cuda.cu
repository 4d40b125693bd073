// CUDA softmax and losses: dtype dispatch and registration for DeviceType::CUDA (kernels in
// softmax_loss_kernels.cuh; validation is the shared frontend's, before dispatch).
#include "ops/softmax_loss/softmax_loss_kernels.cuh"

namespace dlcore::sm_cuda {

namespace {

const SmCudaFns& fns(const Tensor& t) {
  static const SmCudaFns f32 = sm_cuda_fns<float>();
  static const SmCudaFns f64 = sm_cuda_fns_f64();
  return t.dtype() == DType::Float64 ? f64 : f32;
}

void softmax_fwd_cuda(bool log, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I) {
  fns(in).softmax_fwd(log, out, in, O, R, I);
}
void softmax_bwd_cuda(bool log, const Tensor& gx, const Tensor& g, const Tensor& y, int64_t O, int64_t R, int64_t I) {
  fns(y).softmax_bwd(log, gx, g, y, O, R, I);
}
void ce_fwd_cuda(const Tensor& loss, const Tensor& wt, const Tensor& lse, const Tensor& x, const Tensor& target,
                 const Tensor& w, const CrossEntropyArgs& a) {
  fns(x).ce_fwd(loss, wt, lse, x, target, w, a);
}
void ce_bwd_cuda(const Tensor& gx, const Tensor& g, int64_t gs, double scale, const Tensor& x, const Tensor& lse,
                 const Tensor& target, const Tensor& w, const CrossEntropyArgs& a) {
  fns(x).ce_bwd(gx, g, gs, scale, x, lse, target, w, a);
}
void nll_fwd_cuda(const Tensor& loss, const Tensor& wt, const Tensor& x, const Tensor& target, const Tensor& w,
                  int64_t ignore_index) {
  fns(x).nll_fwd(loss, wt, x, target, w, ignore_index);
}
void nll_bwd_cuda(const Tensor& gx, const Tensor& g, int64_t gs, double scale, const Tensor& target, const Tensor& w,
                  int64_t ignore_index) {
  fns(gx).nll_bwd(gx, g, gs, scale, target, w, ignore_index);
}
void pw_fwd_cuda(PwLoss k, const Tensor& out, const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw,
                 const PwLossParams& p) {
  fns(x).pw_fwd(k, out, x, y, w, pw, p);
}
void pw_bwd_cuda(PwLoss k, const Tensor& gx, const Tensor& g, int64_t gs, double scale, const Tensor& x, const Tensor& y,
                 const Tensor& w, const Tensor& pw, const PwLossParams& p) {
  fns(x).pw_bwd(k, gx, g, gs, scale, x, y, w, pw, p);
}
void mm_fwd_cuda(const Tensor& loss, const Tensor& x, const Tensor& target, int p, double margin, const Tensor& w) {
  fns(x).mm_fwd(loss, x, target, p, margin, w);
}
void mm_bwd_cuda(const Tensor& gx, const Tensor& g, int64_t gs, double scale, const Tensor& x, const Tensor& target,
                 int p, double margin, const Tensor& w) {
  fns(x).mm_bwd(gx, g, gs, scale, x, target, p, margin, w);
}

KernelRegistrar r1(softmax_fwd_op, DeviceType::CUDA, &softmax_fwd_cuda, "cuda");
KernelRegistrar r2(softmax_bwd_op, DeviceType::CUDA, &softmax_bwd_cuda, "cuda");
KernelRegistrar r3(cross_entropy_fwd_op, DeviceType::CUDA, &ce_fwd_cuda, "cuda");
KernelRegistrar r4(cross_entropy_bwd_op, DeviceType::CUDA, &ce_bwd_cuda, "cuda");
KernelRegistrar r5(nll_fwd_op, DeviceType::CUDA, &nll_fwd_cuda, "cuda");
KernelRegistrar r6(nll_bwd_op, DeviceType::CUDA, &nll_bwd_cuda, "cuda");
KernelRegistrar r7(pw_loss_fwd_op, DeviceType::CUDA, &pw_fwd_cuda, "cuda");
KernelRegistrar r8(pw_loss_bwd_op, DeviceType::CUDA, &pw_bwd_cuda, "cuda");
KernelRegistrar r9(multi_margin_fwd_op, DeviceType::CUDA, &mm_fwd_cuda, "cuda");
KernelRegistrar r10(multi_margin_bwd_op, DeviceType::CUDA, &mm_bwd_cuda, "cuda");

}  // namespace

}  // namespace dlcore::sm_cuda
