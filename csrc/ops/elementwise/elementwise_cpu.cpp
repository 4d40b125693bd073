// CPU elementwise kernels: the portable scalar loops (the reference and the fallback on any CPU), the per-ISA
// dispatch, copies/casts, fill and where, and their registration for the cpu device.
#define DLCORE_ISA_NS scalar
#define DLCORE_VLEN 1
#include "ops/elementwise/elementwise_loops.h"

#include <atomic>
#include <cstring>
#include <cwchar>

#include "core/core_ops.h"
#include "core/cpu_features.h"
#include "ops/elementwise/cpu_iter.h"
#include "ops/elementwise/half_convert.h"
#include "ops/gemm/gemm_bf16.h"

namespace dlcore {

// The float32 SIMD transposes of recurrent_loops.h (one per ISA translation unit).
namespace avx2 {
void transpose_f32(const float* src, int64_t R, int64_t C, int64_t s0, float* dst, int64_t ldd, bool stream);
}
namespace avx512 {
void transpose_f32(const float* src, int64_t R, int64_t C, int64_t s0, float* dst, int64_t ldd, bool stream);
}

namespace {

// A same-dtype copy (1, 2, 4 or 8-byte items) into a contiguous dst whose src reads the last dim with a stride while
// another dim k has stride 1 (permute(0, 2, 3, 1).contiguous(), x.t().contiguous(), ...): a batch of 2-D transposes
// [size(last), size(k)] -> [size(k), size(last)], by the SIMD 8 x 8 register transposes for 4-byte items, 16 x 16
// tiles otherwise, one per combination of the other dims and block of 64 source rows.
// The element-wise strided loop wrote each output from a different cache line: [8,16,32,32] NCHW -> NHWC 106 us,
// torch 67. Returns false (nothing done) for any other layout.
// dst[c * ldd + r] = src[r * s0 + c] in 16 x 16 tiles (the item sizes without a SIMD transpose: 1, 2, 8 bytes, and
// 4 without AVX2): the element-wise strided loop took 23.6 ms for an int16 2048 x 2048 transpose (torch 1.75).
template <class E>
void transpose_tiles(const E* __restrict src, int64_t R, int64_t C, int64_t s0, E* __restrict dst, int64_t ldd) {
  constexpr int64_t B = 16;
  for (int64_t r0 = 0; r0 < R; r0 += B)
    for (int64_t c0 = 0; c0 < C; c0 += B) {
      const int64_t r1 = std::min(R, r0 + B), c1 = std::min(C, c0 + B);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r) dst[c * ldd + r] = src[r * s0 + c];
    }
}

template <class E>
void transpose_tiles_bytes(const void* src, int64_t R, int64_t C, int64_t s0, void* dst, int64_t ldd) {
  transpose_tiles<E>(static_cast<const E*>(src), R, C, s0, static_cast<E*>(dst), ldd);
}

bool copy_as_transposes(const Tensor& dst, const Tensor& src) {
  const int nd = src.dim();
  const int64_t isz = (int64_t)dst.itemsize();
  if (nd < 2 || (isz != 1 && isz != 2 && isz != 4 && isz != 8) || src.dtype() != dst.dtype() || !dst.is_contiguous() ||
      src.stride(nd - 1) == 1 || src.storage() == dst.storage())
    return false;
  const Isa isa = cpu_isa();
  const bool simd = isz == 4 && (isa == Isa::AVX512 || isa == Isa::AVX2);
  int k = -1;
  for (int d = nd - 2; d >= 0; --d)
    if (src.stride(d) == 1 && src.size(d) > 1) k = d;
  const int64_t L = src.size(nd - 1);
  if (k < 0 || L < 8 || src.size(k) < 8 || src.stride(nd - 1) <= 0) return false;
  const int64_t K = src.size(k), s_last = src.stride(nd - 1), ldd = dst.stride(k);
  const int64_t outer = src.numel() / (K * L);
  const char* sp = static_cast<const char*>(src.raw_data());
  char* dp = static_cast<char*>(dst.raw_data());
  void (*tiles)(const void*, int64_t, int64_t, int64_t, void*, int64_t) =
      isz == 1 ? &transpose_tiles_bytes<uint8_t> : isz == 2 ? &transpose_tiles_bytes<uint16_t>
      : isz == 4 ? &transpose_tiles_bytes<uint32_t> : &transpose_tiles_bytes<uint64_t>;
  // An output of 16 MiB or more (with its source, beyond this machine's 32 MiB L3) is written with non-temporal
  // stores: 2048 x 2048 2.1 -> 1.45 ms at 1 thread; a 9 MiB one stays faster through the caches.
  const bool stream = src.numel() * isz >= (int64_t(16) << 20);
  auto tr = [&](const char* s, int64_t R, int64_t C, int64_t s0, char* d, int64_t ld) {
    if (simd)
      (isa == Isa::AVX512 ? &avx512::transpose_f32 : &avx2::transpose_f32)(
          reinterpret_cast<const float*>(s), R, C, s0, reinterpret_cast<float*>(d), ld, stream);
    else
      tiles(s, R, C, s0, d, ld);
  };
  // tasks: (outer index, block of 64 source rows): a large single transpose splits over threads and its blocks keep
  // both sides' working set small (64 rows read, 64-element segments of every output row written)
  constexpr int64_t kRows = 64;
  const int64_t nb = (L + kRows - 1) / kRows;
  parallel_for(0, outer * nb, std::max<int64_t>(1, (1 << 15) / (K * std::min(L, kRows))), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / nb, r0 = t % nb * kRows, rn = std::min(kRows, L - r0);
      int64_t rem = o, so = 0, dof = 0;  // the other dims' offsets (row-major over them, last of them fastest)
      for (int d = nd - 2; d >= 0; --d) {
        if (d == k) continue;
        const int64_t i = rem % src.size(d);
        rem /= src.size(d);
        so += i * src.stride(d);
        dof += i * dst.stride(d);
      }
      tr(sp + (so + r0 * s_last) * isz, rn, K, s_last, dp + (dof + r0) * isz, ldd);
    }
  });
  return true;
}

std::atomic<bool> g_int_div_by_zero{false};

// Per ISA, the loop tables; an ISA's entry falls back to a lower ISA's when it has none.
struct AllTables {
  ElementwiseTables isa[kNumIsas];
  AllTables() {
    fill_isa_tables(isa, &scalar::fill_elementwise_tables, &avx2::fill_elementwise_tables, &avx512::fill_elementwise_tables);
  }
};
const AllTables& tables() {
  static const AllTables t;
  return t;
}

ElementwiseLoopFn* binary_loop_for(BinaryOp op, DType dt) {
  const AllTables& t = tables();
  for (int i = (int)cpu_isa(); i >= 0; --i)
    if (auto* f = t.isa[i].binary[(int)op][(int)dt]) return f;
  return nullptr;
}
ElementwiseLoopFn* unary_loop_for(UnaryOp op, DType dt) {
  const AllTables& t = tables();
  for (int i = (int)cpu_isa(); i >= 0; --i)
    if (auto* f = t.isa[i].unary[(int)op][(int)dt]) return f;
  return nullptr;
}

template <class T>
void pow_scalar_contiguous(T* y, const T* x, T e, int64_t n) {
  ElementwiseLoopFn* fn = unary_loop_for(UnaryOp::PowScalar, std::is_same_v<T, float> ? DType::Float32 : DType::Float64);
  char* p[2] = {reinterpret_cast<char*>(y), reinterpret_cast<char*>(const_cast<T*>(x))};
  const int64_t s[2] = {(int64_t)sizeof(T), (int64_t)sizeof(T)};
  UnaryParams prm;
  prm.a = (double)e;
  prm.has_a = true;
  fn(p, s, n, &prm);
}

void binary_cpu(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  ElementwiseLoopFn* fn = binary_loop_for(op, a.dtype());
  DLCORE_CHECK(fn, TypeError, binary_op_name(op), ": not supported for dtype ", dtype_name(a.dtype()));
  CpuLoop L = make_cpu_loop({&out, &a, &b});
  run_cpu_loop(L, [&](char** p, const int64_t* s, int64_t n) { fn(p, s, n, nullptr); });
}

void unary_cpu(UnaryOp op, const Tensor& out, const Tensor& x, const UnaryParams& prm) {
  ElementwiseLoopFn* fn = unary_loop_for(op, x.dtype());
  DLCORE_CHECK(fn, TypeError, unary_op_name(op), ": not supported for dtype ", dtype_name(x.dtype()));
  CpuLoop L = make_cpu_loop({&out, &x});
  // Transcendental loops do ~10-30 flops per element: split them across threads sooner.
  int64_t grain = unary_is_float_only(op) ? kElementwiseGrain / 8 : kElementwiseGrain;
  run_cpu_loop(L, [&](char** p, const int64_t* s, int64_t n) { fn(p, s, n, &prm); }, grain);
}

// ---------------------------------------------------------------------------------------------- copy / cast

template <class D, class S>
DLCORE_ALWAYS_INLINE D convert(S v) {
  using SC = typename compute_type<S>::type;
  using DC = typename compute_type<D>::type;
  if constexpr (std::is_same_v<D, S>) return v;
  else if constexpr (std::is_same_v<D, bool>) return (SC)v != SC(0);
  else if constexpr (std::is_same_v<D, Half> || std::is_same_v<D, BFloat16>) return D((float)(SC)v);
  else return (D)(DC)(SC)v;
}

// n contiguous copies of v. This file is built for the baseline ISA (16-byte stores); the C library's memset and
// wmemset (4-byte elements) run its widest stores: a zero-bytes value by memset, 4-byte values by wmemset, others
// by 4 KiB stored once and copied along. [256,1000] float32 fill_ 17 -> ~10 us, expand(col).contiguous() 27 -> ~12.
template <class T>
void fill_row(T* o, T v, int64_t n) {
  unsigned char zero[sizeof(T)] = {};
  if (std::memcmp(&v, zero, sizeof(T)) == 0) {
    std::memset(static_cast<void*>(o), 0, (size_t)n * sizeof(T));
  } else if constexpr (sizeof(T) == sizeof(wchar_t)) {
    wchar_t w;
    std::memcpy(&w, &v, sizeof w);
    std::wmemset(reinterpret_cast<wchar_t*>(o), w, (size_t)n);
  } else {
    const int64_t head = std::min<int64_t>(n, 4096 / (int64_t)sizeof(T));
    for (int64_t i = 0; i < head; ++i) o[i] = v;
    for (int64_t i = head; i < n; i += head)
      std::memcpy(static_cast<void*>(o + i), o, (size_t)std::min(head, n - i) * sizeof(T));
  }
}

template <class D, class S>
void copy_loop(char** p, const int64_t* s, int64_t n) {
  if (s[0] == (int64_t)sizeof(D) && s[1] == (int64_t)sizeof(S)) {
    D* o = reinterpret_cast<D*>(p[0]);
    const S* x = reinterpret_cast<const S*>(p[1]);
    if constexpr (std::is_same_v<D, S>) {
      std::memcpy(o, x, n * sizeof(D));
    } else if constexpr ((std::is_same_v<D, Half> && std::is_same_v<S, float>) ||
                         (std::is_same_v<D, float> && std::is_same_v<S, Half>)) {
      // F16C: 1M floats to float16 1397 -> 66 us, back 929 -> 65 us on Zen 5 (model.half() on the CPU)
      if (cpu_features().f16c && cpu_isa() >= Isa::AVX2) {
        if constexpr (std::is_same_v<D, Half>) half_cvt::f32_to_f16(x, reinterpret_cast<uint16_t*>(o), n);
        else half_cvt::f16_to_f32(reinterpret_cast<const uint16_t*>(x), o, n);
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = convert<D, S>(x[i]);
      }
    } else if constexpr (std::is_same_v<D, float> && std::is_same_v<S, BFloat16>) {
      if (gemm_bf16::available()) gemm_bf16::bf16_to_f32(reinterpret_cast<const uint16_t*>(x), o, n);
      else for (int64_t i = 0; i < n; ++i) o[i] = convert<D, S>(x[i]);
    } else if constexpr (std::is_same_v<D, BFloat16> && std::is_same_v<S, float>) {
      // autocast's weight casts and the 16-bit route's results: 16 lanes at a time where AVX-512 runs (the bf16
      // GEMM's file; the same rounding as BFloat16::from_float): 1M floats 315 -> 80 us on Zen 5
      if (gemm_bf16::available()) gemm_bf16::f32_to_bf16(x, reinterpret_cast<uint16_t*>(o), n);
      else for (int64_t i = 0; i < n; ++i) o[i] = convert<D, S>(x[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i] = convert<D, S>(x[i]);
    }
  } else if (s[0] == (int64_t)sizeof(D) && s[1] == 0) {  // a broadcast source (e.g. the gradient of a sum): a fill
    fill_row(reinterpret_cast<D*>(p[0]), convert<D, S>(*reinterpret_cast<const S*>(p[1])), n);
  } else {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<D*>(p[0] + i * s[0]) = convert<D, S>(*reinterpret_cast<const S*>(p[1] + i * s[1]));
  }
}

void copy_cpu(const Tensor& dst, const Tensor& src) {
  if (dst.shape() == src.shape() && copy_as_transposes(dst, src)) return;
  dispatch_dtype(dst.dtype(), "copy", [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    dispatch_dtype(src.dtype(), "copy", [&](auto stag) {
      using S = typename decltype(stag)::type;
      CpuLoop L = make_cpu_loop({&dst, &src});
      run_cpu_loop(L, [&](char** p, const int64_t* s, int64_t n) { copy_loop<D, S>(p, s, n); }, 1 << 17);
    });
  });
}

void fill_cpu(const Tensor& dst, double value) {
  dispatch_dtype(dst.dtype(), "fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v = convert<T, double>(value);
    CpuLoop L = make_cpu_loop({&dst});
    run_cpu_loop(
        L,
        [&](char** p, const int64_t* s, int64_t n) {
          if (s[0] == (int64_t)sizeof(T)) {
            fill_row(reinterpret_cast<T*>(p[0]), v, n);
          } else {
            for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
          }
        },
        1 << 17);
  });
}

void where_cpu(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  dispatch_dtype(out.dtype(), "where", [&](auto tag) {
    using T = typename decltype(tag)::type;
    CpuLoop L = make_cpu_loop({&out, &cond, &a, &b});
    run_cpu_loop(L, [&](char** p, const int64_t* s, int64_t n) {
      constexpr int64_t st = sizeof(T);
      if (s[0] == st && s[1] == 1 && (s[2] == st || s[2] == 0) && (s[3] == st || s[3] == 0)) {
        // contiguous rows (either value possibly a broadcast scalar): both values loaded, then a select, so the
        // compiler emits a blend / cmov instead of a branch on the mask (a random mask mispredicted half the
        // branches: [256,1000] float32, 1 thread, 940 -> ~30 us; torch 950)
        T* o = reinterpret_cast<T*>(p[0]);
        const uint8_t* c = reinterpret_cast<const uint8_t*>(p[1]);
        const T* pa = reinterpret_cast<const T*>(p[2]);
        const T* pb = reinterpret_cast<const T*>(p[3]);
        auto run = [&](auto a_vec, auto b_vec) {
          for (int64_t i = 0; i < n; ++i) {
            const T x = pa[decltype(a_vec)::value ? i : 0], y = pb[decltype(b_vec)::value ? i : 0];
            o[i] = c[i] ? x : y;
          }
        };
        using Y = std::true_type;
        using N = std::false_type;
        if (s[2] && s[3]) run(Y{}, Y{});
        else if (s[2]) run(Y{}, N{});
        else if (s[3]) run(N{}, Y{});
        else run(N{}, N{});
        return;
      }
      for (int64_t i = 0; i < n; ++i) {
        bool c = *reinterpret_cast<const bool*>(p[1] + i * s[1]);
        *reinterpret_cast<T*>(p[0] + i * s[0]) =
            c ? *reinterpret_cast<const T*>(p[2] + i * s[2]) : *reinterpret_cast<const T*>(p[3] + i * s[3]);
      }
    });
  });
}

KernelRegistrar reg_binary(binary_op, DeviceType::CPU, &binary_cpu, "cpu");
KernelRegistrar reg_unary(unary_op, DeviceType::CPU, &unary_cpu, "cpu");
KernelRegistrar reg_where(where_op, DeviceType::CPU, &where_cpu, "cpu");
KernelRegistrar reg_copy(copy_op, DeviceType::CPU, &copy_cpu, "cpu");
KernelRegistrar reg_fill(fill_op, DeviceType::CPU, &fill_cpu, "cpu");

}  // namespace

bool add_scaled_inplace_cpu(const Tensor& y, const Tensor& x, double alpha) {
  if (y.device().type != DeviceType::CPU || x.device().type != DeviceType::CPU || y.dtype() != x.dtype() ||
      y.shape() != x.shape() || !y.is_contiguous() || !x.is_contiguous() ||
      (y.dtype() != DType::Float32 && y.dtype() != DType::Float64))
    return false;
  if (y.storage() == x.storage() && y.raw_data() != x.raw_data()) return false;  // partial overlap: the slow path
  dispatch_float(y.dtype(), "add_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* py = y.data<T>();
    const T* px = x.data<T>();
    const T a = (T)alpha;
    parallel_for(0, y.numel(), kElementwiseGrain, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) py[i] += a * px[i];
    });
  });
  return true;
}

Tensor fused_ternary_cpu(int kind, const Tensor& a, const Tensor& b, const Tensor& c, double s) {
  const bool three = kind != 2;
  auto ok = [&](const Tensor& t) {
    return t.device().type == DeviceType::CPU && t.dtype() == a.dtype() && t.shape() == a.shape() && t.is_contiguous();
  };
  if ((a.dtype() != DType::Float32 && a.dtype() != DType::Float64) || !ok(a) || !ok(b) || (three && !ok(c)))
    return Tensor();
  Tensor out = Tensor::empty(a.shape(), a.dtype(), Device());
  dispatch_float(a.dtype(), "addcmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const T* pc = three ? c.data<T>() : nullptr;
    T* o = out.data<T>();
    const T sv = (T)s;
    parallel_for(0, a.numel(), kElementwiseGrain, [&](int64_t i0, int64_t i1) {
      if (kind == 0) {
        for (int64_t i = i0; i < i1; ++i) o[i] = pa[i] + sv * pb[i] * pc[i];
      } else if (kind == 1) {
        for (int64_t i = i0; i < i1; ++i) o[i] = pa[i] + sv * pb[i] / pc[i];
      } else if (std::fabs(sv) < T(0.5)) {
        for (int64_t i = i0; i < i1; ++i) o[i] = pa[i] + sv * (pb[i] - pa[i]);
      } else {
        const T omw = T(1) - sv;
        for (int64_t i = i0; i < i1; ++i) o[i] = pb[i] - (pb[i] - pa[i]) * omw;
      }
    });
  });
  return out;
}

void pow_scalar_contiguous_cpu(float* y, const float* x, float e, int64_t n) { pow_scalar_contiguous(y, x, e, n); }
void pow_scalar_contiguous_cpu(double* y, const double* x, double e, int64_t n) {
  pow_scalar_contiguous(y, x, e, n);
}

bool take_int_div_by_zero_flag() { return g_int_div_by_zero.exchange(false); }
void set_int_div_by_zero_flag() { g_int_div_by_zero.store(true, std::memory_order_relaxed); }

}  // namespace dlcore
