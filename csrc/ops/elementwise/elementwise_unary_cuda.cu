// CUDA unary elementwise kernels for the non-float64 dtypes (float64: elementwise_f64_cuda.cu).
#include "ops/elementwise/elementwise_kernels.cuh"

namespace dlcore::ew_cuda {

void fill_unary_table_main(UnaryTable& t) {
  fill_unary_table<bool, 0>(t);
  fill_unary_table<uint8_t, 0>(t);
  fill_unary_table<int8_t, 0>(t);
  fill_unary_table<int16_t, 0>(t);
  fill_unary_table<int32_t, 0>(t);
  fill_unary_table<int64_t, 0>(t);
  fill_unary_table<float, 0>(t);
}

}  // namespace dlcore::ew_cuda
