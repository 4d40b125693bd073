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

void adamax_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& u,
                       const std::vector<int64_t>& steps, const AdamaxArgs& a) {
  adamax_launch<double>(params, grads, m, u, steps, a);
}
void nadam_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                      const std::vector<int64_t>& steps, const std::vector<double>& mu_products, const NadamArgs& a) {
  nadam_launch<double>(params, grads, m, v, steps, mu_products, a);
}
void radam_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& m, const TensorList& v,
                      const std::vector<int64_t>& steps, const RadamArgs& a) {
  radam_launch<double>(params, grads, m, v, steps, a);
}
void adadelta_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& sq,
                         const TensorList& acc, const AdadeltaArgs& a) {
  adadelta_launch<double>(params, grads, sq, acc, a);
}
void rprop_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& prevs,
                      const TensorList& step_sizes, const RpropArgs& a) {
  rprop_launch<double>(params, grads, prevs, step_sizes, a);
}
void asgd_launch_f64(const TensorList& params, const TensorList& grads, const TensorList& axs,
                     const std::vector<double>& etas, const std::vector<double>& mus, const AsgdArgs& a) {
  asgd_launch<double>(params, grads, axs, etas, mus, a);
}

}  // namespace dlcore::optim_cuda
