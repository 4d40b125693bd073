// CUDA CTC loss: dtype dispatch and registration for DeviceType::CUDA (kernels in ctc_kernels.cuh; argument checks
// are the binding's, csrc/bindings/ctc_bind.cpp, before dispatch).
#include "ops/softmax_loss/ctc_kernels.cuh"

namespace dlcore::ctc_cuda {

namespace {

const CtcCudaFns& fns(const Tensor& t) {
  static const CtcCudaFns f32 = ctc_cuda_fns<float>();
  static const CtcCudaFns f64 = ctc_cuda_fns_f64();
  return t.dtype() == DType::Float64 ? f64 : f32;
}

Tensor ctc_forward_cuda(const Tensor& lp, const CtcProblem& p, Tensor* alpha) { return fns(lp).forward(lp, p, alpha); }

Tensor ctc_backward_cuda(const Tensor& lp, const CtcProblem& p, const Tensor& nll, const Tensor& alpha,
                         const Tensor& g, bool zero_infinity) {
  return fns(lp).backward(lp, p, nll, alpha, g, zero_infinity);
}

KernelRegistrar r1(ctc_fwd_op, DeviceType::CUDA, &ctc_forward_cuda, "cuda");
KernelRegistrar r2(ctc_bwd_op, DeviceType::CUDA, &ctc_backward_cuda, "cuda");

}  // namespace

}  // namespace dlcore::ctc_cuda
