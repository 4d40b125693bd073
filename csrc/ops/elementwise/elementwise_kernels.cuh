// CUDA kernels of the elementwise family: one grid-stride kernel over a strided iteration space, instantiated with
// per-op functors that call the shared formulas of elementwise.h (binary_apply, unary_apply).
//
// Iteration: operands are coalesced on the host exactly as on the CPU (make_cpu_loop: dimensions ordered by the
// output's strides, size-1 dims dropped, dims contiguous in every operand merged); element i's byte offset in
// operand j is sum_d idx_d(i) * strides[d][j] with dimension 0 innermost. When every operand is one contiguous run
// the offsets are i * itemsize (no div/mod).
// Scalars: a 0-d CPU tensor operand (a Python number) is read on the host and passed by value (scalar_mask bit).
// Float kernels never touch double: parameters are converted to the compute type on the host.
#pragma once
#include <type_traits>

#include "cuda/cuda_kernel.cuh"
#include "ops/elementwise/cpu_iter.h"
#include "ops/elementwise/elementwise.h"

namespace dlcore::ew_cuda {

constexpr int kIterOps = 4;
constexpr int kThreads = 256;

struct Iter {
  int ndim = 0;
  bool contiguous = false;
  int64_t numel = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims][kIterOps] = {};
  char* base[kIterOps] = {};
  int itemsize[kIterOps] = {};
};

// Host: the iteration over same-shape operands (operand 0 is the output).
inline Iter make_iter(std::initializer_list<const Tensor*> ops) {
  CpuLoop L = make_cpu_loop(ops);
  Iter it;
  it.ndim = L.ndim;
  it.numel = L.numel;
  int j = 0;
  bool contig = L.ndim == 1;
  for (const Tensor* t : ops) {
    it.base[j] = L.base[j];
    it.itemsize[j] = (int)t->itemsize();
    if (L.strides[0][j] != (int64_t)t->itemsize() && !(t->dim() == 0)) contig = false;
    ++j;
  }
  for (int d = 0; d < L.ndim; ++d) {
    it.sizes[d] = L.sizes[d];
    for (int k = 0; k < L.nops; ++k) it.strides[d][k] = L.strides[d][k];
  }
  it.contiguous = contig;
  return it;
}

// The byte pointers of element i's operands (strided_kernel's addressing; also the index kernels').
template <int NOPS>
__device__ __forceinline__ void iter_ptrs(const Iter& it, int64_t i, char** p) {
  if (it.contiguous) {
    DLCORE_UNROLL
    for (int j = 0; j < NOPS; ++j) p[j] = it.base[j] + i * it.itemsize[j];
    return;
  }
  DLCORE_UNROLL
  for (int j = 0; j < NOPS; ++j) p[j] = it.base[j];
  int64_t rem = i;
  for (int d = 0; d < it.ndim; ++d) {
    int64_t idx = rem % it.sizes[d];
    rem /= it.sizes[d];
    DLCORE_UNROLL
    for (int j = 0; j < NOPS; ++j) p[j] += idx * it.strides[d][j];
  }
}

template <int NOPS, class F>
__global__ void strided_kernel(Iter it, F f) {
  int64_t step = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < it.numel; i += step) {
    char* p[NOPS];
    iter_ptrs<NOPS>(it, i, p);
    f(p);
  }
}

template <int NOPS, class F>
void launch_strided(const Iter& it, const F& f) {
  if (it.numel == 0) return;
  auto* k = &strided_kernel<NOPS, F>;
  DLCORE_LAUNCH(k, cuda::blocks_for(it.numel, kThreads), kThreads, 0, cuda::current_stream())(it, f);
}

// ------------------------------------------------------------------------------------------------ casts

// (D) v with the CPU's rules: to bool is `!= 0`, 16-bit floats through float32.
template <class D, class S>
__device__ __forceinline__ D cast_value(S v) {
  using SC = typename compute_type<S>::type;
  using DC = typename compute_type<D>::type;
  if constexpr (std::is_same_v<D, S>) return v;
  else if constexpr (std::is_same_v<D, bool>) return (SC)v != SC(0);
  else if constexpr (std::is_same_v<D, Half> || std::is_same_v<D, BFloat16>) return D((float)(SC)v);
  else return (D)(DC)(SC)v;
}

template <class D, class S>
struct CopyF {
  __device__ __forceinline__ void operator()(char** p) const {
    *reinterpret_cast<D*>(p[0]) = cast_value<D, S>(*reinterpret_cast<const S*>(p[1]));
  }
};

template <class T>
struct FillF {
  T v;
  __device__ __forceinline__ void operator()(char** p) const { *reinterpret_cast<T*>(p[0]) = v; }
};

template <class T>
struct WhereF {
  T sa, sb;
  int scalar_mask;  // bit 0: a is the scalar sa, bit 1: b is sb
  __device__ __forceinline__ void operator()(char** p) const {
    bool c = *reinterpret_cast<const bool*>(p[1]);
    T a = (scalar_mask & 1) ? sa : *reinterpret_cast<const T*>(p[2]);
    T b = (scalar_mask & 2) ? sb : *reinterpret_cast<const T*>(p[3]);
    *reinterpret_cast<T*>(p[0]) = c ? a : b;
  }
};

// ------------------------------------------------------------------------------------------------ binary

template <BinaryOp OP, class T>
constexpr bool binary_supported() {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return false;
  else if constexpr (OP == BinaryOp::Div || binary_is_float_only(OP)) return std::is_floating_point_v<T>;
  else if constexpr (OP == BinaryOp::Sub || OP == BinaryOp::Pow || binary_is_int_div(OP))
    return !std::is_same_v<T, bool>;
  else if constexpr (binary_is_logical(OP)) return std::is_same_v<T, bool>;
  else if constexpr (binary_is_bitwise(OP)) return !std::is_floating_point_v<T>;
  else return true;
}

template <BinaryOp OP, class T>
struct BinaryF {
  T sa, sb;
  int scalar_mask;
  int* div0;  // integer floor_divide/remainder: set to 1 when a divisor is zero
  __device__ __forceinline__ void operator()(char** p) const {
    T a = (scalar_mask & 1) ? sa : *reinterpret_cast<const T*>(p[1]);
    T b = (scalar_mask & 2) ? sb : *reinterpret_cast<const T*>(p[2]);
    using Out = decltype(binary_apply<OP, T>(a, b));
    if constexpr (binary_is_int_div(OP) && !std::is_floating_point_v<T>) {
      if (b == T(0)) *div0 = 1;
    }
    *reinterpret_cast<Out*>(p[0]) = binary_apply<OP, T>(a, b);
  }
};

using BinaryLaunchFn = void(const Iter& it, const void* sa, const void* sb, int scalar_mask, int* div0);
struct BinaryTable {
  BinaryLaunchFn* fn[kNumBinaryOps][kNumDTypes] = {};
};

template <BinaryOp OP, class T>
void binary_launch(const Iter& it, const void* sa, const void* sb, int scalar_mask, int* div0) {
  BinaryF<OP, T> f{*static_cast<const T*>(sa), *static_cast<const T*>(sb), scalar_mask, div0};
  launch_strided<3>(it, f);
}

template <class T, int OPI = 0>
void fill_binary_table(BinaryTable& t) {
  if constexpr (OPI < kNumBinaryOps) {
    constexpr BinaryOp OP = (BinaryOp)OPI;
    if constexpr (binary_supported<OP, T>()) t.fn[OPI][(int)dtype_of<T>::value] = &binary_launch<OP, T>;
    fill_binary_table<T, OPI + 1>(t);
  }
}

// ------------------------------------------------------------------------------------------------ unary

template <UnaryOp OP, class T>
constexpr bool unary_supported() {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return false;
  else if constexpr (unary_is_float_only(OP)) return std::is_floating_point_v<T>;
  else if constexpr (OP == UnaryOp::IsNan || OP == UnaryOp::IsInf || OP == UnaryOp::IsFinite ||
                     OP == UnaryOp::SignBit)
    return true;
  else if constexpr (OP == UnaryOp::NanToNum) return std::is_floating_point_v<T>;  // (integers: the caller copies)
  else if constexpr (OP == UnaryOp::LogicalNot) return std::is_same_v<T, bool>;
  else if constexpr (OP == UnaryOp::BitwiseNot) return !std::is_floating_point_v<T>;
  else return !std::is_same_v<T, bool>;
}

// The parameters of Clamp/PowScalar converted to T on the host (no double arithmetic in float kernels).
template <class T>
struct TypedParams {
  T a, b, c;
  bool has_a, has_b;
};

template <UnaryOp OP, class T>
struct UnaryF {
  TypedParams<T> prm;
  __device__ __forceinline__ void operator()(char** p) const {
    T x = *reinterpret_cast<const T*>(p[1]);
    if constexpr (OP == UnaryOp::Clamp) {
      // unary_apply's Clamp with the bounds already in T
      T r = x;
      if (!is_nan_v(r)) {
        if (prm.has_a && r < prm.a) r = prm.a;
        if (prm.has_b && r > prm.b) r = prm.b;
      }
      *reinterpret_cast<T*>(p[0]) = r;
    } else if constexpr (OP == UnaryOp::PowScalar) {
      T r;
      if constexpr (std::is_floating_point_v<T>) r = pow_scalar(x, prm.a);  // (elementwise.h: special exponents)
      else r = pow_int(x, prm.a);
      *reinterpret_cast<T*>(p[0]) = r;
    } else if constexpr (OP == UnaryOp::NanToNum) {
      *reinterpret_cast<T*>(p[0]) = nan_to_num_of(x, prm.a, prm.b, prm.c);
    } else if constexpr (OP == UnaryOp::Logit) {
      *reinterpret_cast<T*>(p[0]) = logit_of(x, prm.has_a, prm.a);
    } else {
      const UnaryParams none{};
      using Out = decltype(unary_apply<OP, T>(x, none));
      *reinterpret_cast<Out*>(p[0]) = unary_apply<OP, T>(x, none);
    }
  }
};

using UnaryLaunchFn = void(const Iter& it, const UnaryParams& p);
struct UnaryTable {
  UnaryLaunchFn* fn[kNumUnaryOps][kNumDTypes] = {};
};

template <UnaryOp OP, class T>
void unary_launch(const Iter& it, const UnaryParams& p) {
  TypedParams<T> tp{(T)p.a, (T)p.b, (T)p.c, p.has_a, p.has_b};
  UnaryF<OP, T> f{tp};
  launch_strided<2>(it, f);
}

// CUDA's sinf/cosf/tanf reduce huge arguments in float64 (and local memory): their float kernels (and those of the
// formulas that call them: sinc, digamma's and trigamma's reflections) live in the *_f64 file.
template <UnaryOp OP>
constexpr bool unary_float_calls_trig() {
  return OP == UnaryOp::Sin || OP == UnaryOp::Cos || OP == UnaryOp::Tan || OP == UnaryOp::Sinc ||
         OP == UnaryOp::Digamma || OP == UnaryOp::Trigamma;
}
template <UnaryOp OP, class T>
constexpr bool unary_needs_f64_file() {
  return std::is_same_v<T, double> || (std::is_same_v<T, float> && unary_float_calls_trig<OP>());
}

// Part: 0 = the ops that need no float64 (main file), 1 = those that do (the *_f64 file).
template <class T, int Part, int OPI = 0>
void fill_unary_table(UnaryTable& t) {
  if constexpr (OPI < kNumUnaryOps) {
    constexpr UnaryOp OP = (UnaryOp)OPI;
    if constexpr (unary_supported<OP, T>() && unary_needs_f64_file<OP, T>() == (Part == 1))
      t.fn[OPI][(int)dtype_of<T>::value] = &unary_launch<OP, T>;
    fill_unary_table<T, Part, OPI + 1>(t);
  }
}

// ------------------------------------------------------------------------------------------------ copy / fill / where

using CopyLaunchFn = void(const Iter& it);
using FillLaunchFn = void(const Iter& it, double value);
using WhereLaunchFn = void(const Iter& it, const void* sa, const void* sb, int scalar_mask);
struct CopyTable {
  CopyLaunchFn* copy[kNumDTypes][kNumDTypes] = {};  // [dst][src]
  FillLaunchFn* fill[kNumDTypes] = {};
  WhereLaunchFn* where[kNumDTypes] = {};
};

template <class D, class S>
void copy_launch(const Iter& it) {
  launch_strided<2>(it, CopyF<D, S>{});
}
template <class T>
void fill_launch(const Iter& it, double value) {
  T v;
  if constexpr (std::is_same_v<T, bool>) v = value != 0.0;
  else if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) v = T((float)value);
  else v = (T)value;
  launch_strided<1>(it, FillF<T>{v});
}
template <class T>
void where_launch(const Iter& it, const void* sa, const void* sb, int scalar_mask) {
  launch_strided<4>(it, WhereF<T>{*static_cast<const T*>(sa), *static_cast<const T*>(sb), scalar_mask});
}

// Filled per translation unit: the float64 entries live in elementwise_f64_cuda.cu (the double-usage gate).
void fill_binary_table_main(BinaryTable& t);
void fill_binary_table_f64(BinaryTable& t);
void fill_unary_table_main(UnaryTable& t);
void fill_unary_table_f64(UnaryTable& t);
void fill_copy_table_main(CopyTable& t);
void fill_copy_table_f64(CopyTable& t);

}  // namespace dlcore::ew_cuda
