// The float64 instantiations of the CUDA elementwise kernels: binary, unary, casts from and to float64, fill and
// where, and float sin/cos/tan and the formulas calling them (CUDA's sinf/cosf use float64 for huge arguments). In
// their own file because ptxas's double-usage check (an error for every other .cu) reports per line.
#include "ops/elementwise/elementwise_kernels.cuh"

namespace dlcore::ew_cuda {

void fill_binary_table_f64(BinaryTable& t) { fill_binary_table<double>(t); }
void fill_unary_table_f64(UnaryTable& t) {
  fill_unary_table<double, 1>(t);
  fill_unary_table<float, 1>(t);  // sin, cos, tan, sinc, digamma, trigamma (unary_float_calls_trig)
}

template <class S>
void add_copy_pair(CopyTable& t) {
  t.copy[(int)DType::Float64][(int)dtype_of<S>::value] = &copy_launch<double, S>;
  t.copy[(int)dtype_of<S>::value][(int)DType::Float64] = &copy_launch<S, double>;
}

void fill_copy_table_f64(CopyTable& t) {
  add_copy_pair<bool>(t);
  add_copy_pair<uint8_t>(t);
  add_copy_pair<int8_t>(t);
  add_copy_pair<int16_t>(t);
  add_copy_pair<int32_t>(t);
  add_copy_pair<int64_t>(t);
  add_copy_pair<Half>(t);
  add_copy_pair<BFloat16>(t);
  add_copy_pair<float>(t);
  t.copy[(int)DType::Float64][(int)DType::Float64] = &copy_launch<double, double>;
  t.fill[(int)DType::Float64] = &fill_launch<double>;
  t.where[(int)DType::Float64] = &where_launch<double>;
}

}  // namespace dlcore::ew_cuda
