// Winograd F(2x2, 3x3) convolution: forward, input gradient, weight gradient (formulas in conv_winograd.h).
// This TU holds the per-ISA tables and the baseline (x86-64 / SSE2) build of conv_winograd_impl.inc;
// conv_winograd_avx2.cpp and conv_winograd_avx512.cpp add the vectorised builds.
#include "ops/conv/conv_winograd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <type_traits>

#include "core/parallel.h"
#include "ops/gemm/gemm.h"

namespace dlcore {

namespace conv_winograd_scalar {
void register_kernels(IsaTable<const WinogradKernels<float>>& f, IsaTable<const WinogradKernels<double>>& d);
}

namespace {
struct WinogradTables {
  IsaTable<const WinogradKernels<float>> f;
  IsaTable<const WinogradKernels<double>> d;
  WinogradTables() {
    conv_winograd_scalar::register_kernels(f, d);
    const int s = (int)cpu_isa_supported();
    if (s >= (int)Isa::AVX2) conv_winograd_avx2::register_kernels(f, d);
    if (s >= (int)Isa::AVX512) conv_winograd_avx512::register_kernels(f, d);
  }
};
WinogradTables& all_winograd_tables() {
  static WinogradTables t;
  return t;
}
}  // namespace

template <class T>
IsaTable<const WinogradKernels<T>>& winograd_tables() {
  if constexpr (std::is_same_v<T, float>) return all_winograd_tables().f;
  else return all_winograd_tables().d;
}
template IsaTable<const WinogradKernels<float>>& winograd_tables<float>();
template IsaTable<const WinogradKernels<double>>& winograd_tables<double>();

template <class T>
T* winograd_scratch(std::size_t n, int slot) {
  thread_local std::vector<T> bufs[5];
  auto& b = bufs[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}
template float* winograd_scratch<float>(std::size_t, int);
template double* winograd_scratch<double>(std::size_t, int);

namespace conv_winograd_scalar {
namespace {
#include "ops/conv/conv_winograd_impl.inc"
}  // namespace
void register_kernels(IsaTable<const WinogradKernels<float>>& f, IsaTable<const WinogradKernels<double>>& d) {
  f.fn[(int)Isa::Scalar] = &kernels<float>;
  d.fn[(int)Isa::Scalar] = &kernels<double>;
}
}  // namespace conv_winograd_scalar

template <class T>
void conv_winograd_forward(T* y, const T* x, const T* w, const T* b, const ConvParams& p) {
  winograd_tables<T>().get()->forward(y, x, w, b, p);
}
template <class T>
void conv_winograd_backward_input(T* gx, const T* gy, const T* w, const ConvParams& p) {
  winograd_tables<T>().get()->backward_input(gx, gy, w, p);
}
template <class T>
void conv_winograd_backward_weight(T* gw, const T* gy, const T* x, const ConvParams& p) {
  winograd_tables<T>().get()->backward_weight(gw, gy, x, p);
}

template void conv_winograd_forward<float>(float*, const float*, const float*, const float*, const ConvParams&);
template void conv_winograd_forward<double>(double*, const double*, const double*, const double*, const ConvParams&);
template void conv_winograd_backward_input<float>(float*, const float*, const float*, const ConvParams&);
template void conv_winograd_backward_input<double>(double*, const double*, const double*, const ConvParams&);
template void conv_winograd_backward_weight<float>(float*, const float*, const float*, const ConvParams&);
template void conv_winograd_backward_weight<double>(double*, const double*, const double*, const ConvParams&);

}  // namespace dlcore
