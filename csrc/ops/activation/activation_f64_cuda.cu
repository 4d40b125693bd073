// The float64 instantiations of the CUDA activations (own file: the double-usage gate, see cuda/cuda_kernel.cuh).
#include "ops/activation/activation_kernels.cuh"

namespace dlcore::act_cuda {

void fill_act_cuda_f64(ActCudaTable& t) { fill_act_cuda<double>(t); }

}  // namespace dlcore::act_cuda
