// The float64 instantiations of the CUDA optimizer steps (own file: the double-usage gate, see cuda/cuda_kernel.cuh).
#include "ops/optim/optim_kernels.cuh"

namespace dlcore::optim_cuda {

void sgd_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& bufs,
                    const std::vector<uint8_t>& first, const SgdArgs& a) {
  sgd_launch<double>(params, grads, bufs, first, a);
}
void adam_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                     const TensorList& vmax, const std::vector<int64_t>& steps, const AdamArgs& a) {
  adam_launch<double>(params, grads, m, v, vmax, steps, a);
}
void adagrad_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& sums,
                        const std::vector<int64_t>& steps, const AdagradArgs& a) {
  adagrad_launch<double>(params, grads, sums, steps, a);
}
void adam_capturable_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m,
                                const TensorList& v, const TensorList& vmax, const TensorList& steps,
                                const AdamArgs& a) {
  adam_capturable_launch<double>(params, grads, m, v, vmax, steps, a);
}
void rmsprop_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& sq,
                        const TensorList& ga, const TensorList& bufs, const RmspropArgs& a) {
  rmsprop_launch<double>(params, grads, sq, ga, bufs, a);
}

}  // namespace dlcore::optim_cuda
