// CPU reductions: the scalar build of the loops (reference/fallback), per-ISA dispatch, argmax/argmin, and the
// registration for the cpu device.
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/reduce/reduce_loops.h"

#include "core/cpu_features.h"

namespace dlcore {

namespace {

struct AllReduceTables {
  ReduceTable isa[kNumIsas];
  AllReduceTables() {
    fill_isa_tables(isa, &scalar::fill_reduce_table, &avx2::fill_reduce_table, &avx512::fill_reduce_table);
  }
};

const AllReduceTables& reduce_tables() {
  static const AllReduceTables t;
  return t;
}

// argmax/argmin: out (int64) [O, I]; first index of the extreme value, NaN wins.
template <class T, bool IsMax>
void arg_kernel(const T* x, int64_t* out, int64_t O, int64_t R, int64_t I) {
  auto better = [](T cand, T best) {
    if (is_nan_v(best)) return false;
    if (is_nan_v(cand)) return true;
    return IsMax ? cand > best : cand < best;
  };
  parallel_for(0, O * I, std::max<int64_t>(1, 16384 / std::max<int64_t>(R, 1)), [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      int64_t o = j / I, i = j % I;
      const T* p = x + o * R * I + i;
      T best = p[0];
      int64_t bi = 0;
      for (int64_t r = 1; r < R; ++r) {
        T v = p[r * I];
        if (better(v, best)) {
          best = v;
          bi = r;
        }
      }
      out[j] = bi;
    }
  });
}

void reduce_cpu(ReduceOp op, const Tensor& out, const Tensor& in, int64_t O, int64_t R, int64_t I) {
  if (op == ReduceOp::ArgMax || op == ReduceOp::ArgMin) {
    DLCORE_CHECK(R > 0, IndexError, reduce_op_name(op), ": cannot reduce over an empty dimension");
    if (I == 1) {  // contiguous rows: an ISA's row kernel when it has one (float32 on AVX-512)
      const AllReduceTables& t = reduce_tables();
      ReduceLoopFn* fn = nullptr;
      for (int i = (int)cpu_isa(); i >= 0 && !fn; --i) fn = t.isa[i].fn[(int)op][(int)in.dtype()];
      if (fn) {
        fn(static_cast<const char*>(in.raw_data()), static_cast<char*>(out.raw_data()), O, R, I);
        return;
      }
    }
    dispatch_dtype(in.dtype(), reduce_op_name(op), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
        DLCORE_THROW(TypeError, reduce_op_name(op), ": 16-bit floats must be cast first");
      } else {
        if (op == ReduceOp::ArgMax) arg_kernel<T, true>(in.data<T>(), out.data<int64_t>(), O, R, I);
        else arg_kernel<T, false>(in.data<T>(), out.data<int64_t>(), O, R, I);
      }
    });
    return;
  }
  const AllReduceTables& t = reduce_tables();
  ReduceLoopFn* fn = nullptr;
  for (int i = (int)cpu_isa(); i >= 0 && !fn; --i) fn = t.isa[i].fn[(int)op][(int)in.dtype()];
  DLCORE_CHECK(fn, TypeError, reduce_op_name(op), ": not supported for dtype ", dtype_name(in.dtype()));
  fn(static_cast<const char*>(in.raw_data()), static_cast<char*>(out.raw_data()), O, R, I);
}

KernelRegistrar reg_reduce(reduce_op, DeviceType::CPU, &reduce_cpu, "cpu");

}  // namespace

Tensor sumsq_rows(const Tensor& x) {
  DLCORE_CHECK(x.dim() == 2 && x.dtype() == DType::Float32 && x.device().type == DeviceType::CPU &&
                   x.is_contiguous(),
               ValueError, "sumsq_rows(): expected a contiguous 2-D float32 cpu tensor, got ", x.shape().str(), " ",
               dtype_name(x.dtype()));
  const int64_t rows = x.size(0), n = x.size(1);
  Tensor out = Tensor::empty({rows}, DType::Float32, x.device());
  const float* p = x.data<float>();
  float* o = out.data<float>();
  const AllReduceTables& t = reduce_tables();
  double (*fn)(const float*, int64_t) = nullptr;
  for (int i = (int)cpu_isa(); i >= 0 && !fn; --i) fn = t.isa[i].sumsq_row_f32;
  scalar::reduce_rows<double>(
      rows, n, [&](int64_t off, int64_t len) { return fn(p + off, len); }, [](double a, double b) { return a + b; },
      0.0, [&](int64_t r, double v) { o[r] = (float)v; });
  return out;
}

}  // namespace dlcore
