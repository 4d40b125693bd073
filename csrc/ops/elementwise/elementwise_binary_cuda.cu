// CUDA binary elementwise kernels for the non-float64 dtypes (float64: elementwise_f64_cuda.cu).
#include "ops/elementwise/elementwise_kernels.cuh"

namespace dlcore::ew_cuda {

void fill_binary_table_main(BinaryTable& t) {
  fill_binary_table<bool>(t);
  fill_binary_table<uint8_t>(t);
  fill_binary_table<int8_t>(t);
  fill_binary_table<int16_t>(t);
  fill_binary_table<int32_t>(t);
  fill_binary_table<int64_t>(t);
  fill_binary_table<float>(t);
}

}  // namespace dlcore::ew_cuda
